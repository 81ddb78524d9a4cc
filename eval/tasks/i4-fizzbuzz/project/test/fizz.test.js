import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fizzbuzz } from '../src/fizz.js';
test('three', () => {
  assert.deepEqual(fizzbuzz(3), ['1', '2', 'Fizz']);
});
