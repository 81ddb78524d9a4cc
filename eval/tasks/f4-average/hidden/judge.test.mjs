import { test } from 'node:test';
import assert from 'node:assert/strict';
import { average } from '../src/average.js';
test('average', () => {
  assert.equal(average([1, 2]), 1.5);
  assert.equal(average([]), 0);
  assert.equal(average([4, 4, 4]), 4);
});
