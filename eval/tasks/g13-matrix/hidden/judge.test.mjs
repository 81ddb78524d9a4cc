import { test } from 'node:test';
import assert from 'node:assert/strict';
import { transpose, multiply } from '../src/matrix.js';
test('matrix', () => {
  assert.deepEqual(transpose([[1, 2, 3]]), [[1], [2], [3]]);
  assert.deepEqual(transpose([[1, 2], [3, 4]]), [[1, 3], [2, 4]]);
  assert.deepEqual(multiply([[1, 2]], [[3], [4]]), [[11]]);
  assert.deepEqual(multiply([[1, 0], [0, 1]], [[5, 6], [7, 8]]), [[5, 6], [7, 8]]);
  assert.throws(() => multiply([[1, 2]], [[1, 2]]), Error);
});
