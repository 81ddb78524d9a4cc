import { test } from 'node:test';
import assert from 'node:assert/strict';
import { max } from '../src/max.js';
test('max', () => {
  assert.equal(max([3, 9, 2]), 9);
  assert.equal(max([-5, -2, -9]), -2);
  assert.equal(max([7]), 7);
});
