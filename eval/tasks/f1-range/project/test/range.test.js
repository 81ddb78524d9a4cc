import { test } from 'node:test';
import assert from 'node:assert/strict';
import { range } from '../src/range.js';
test('inclusive', () => {
  assert.deepEqual(range(1, 3), [1, 2, 3]);
});
