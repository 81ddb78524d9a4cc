import { test } from 'node:test';
import assert from 'node:assert/strict';
import { range } from '../src/range.js';
test('range', () => {
  assert.deepEqual(range(0, 5), [0, 1, 2, 3, 4]);
  assert.deepEqual(range(1, 10, 3), [1, 4, 7]);
  assert.deepEqual(range(5, 5), []);
  assert.deepEqual(range(2, 3), [2]);
  assert.throws(() => range(0, 5, 0), RangeError);
  assert.throws(() => range(0, 5, -1), RangeError);
});
