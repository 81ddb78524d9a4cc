import { test } from 'node:test';
import assert from 'node:assert/strict';
import { max } from '../src/max.js';
test('largest', () => {
  assert.equal(max([3, 9, 2]), 9);
});
