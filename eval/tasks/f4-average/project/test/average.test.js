import { test } from 'node:test';
import assert from 'node:assert/strict';
import { average } from '../src/average.js';
test('mean', () => {
  assert.equal(average([1, 2]), 1.5);
});
