import { test } from 'node:test';
import assert from 'node:assert/strict';
import { range } from '../src/range.js';
test('range', () => {
  assert.deepEqual(range(1, 3), [1, 2, 3]);
  assert.deepEqual(range(5, 5), [5]);
  assert.deepEqual(range(0, 2), [0, 1, 2]);
});
