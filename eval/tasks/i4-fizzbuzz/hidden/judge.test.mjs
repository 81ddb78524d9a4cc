import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fizzbuzz } from '../src/fizz.js';
test('fizzbuzz', () => {
  const out = fizzbuzz(15);
  assert.equal(out.length, 15);
  assert.equal(out[2], 'Fizz');
  assert.equal(out[4], 'Buzz');
  assert.equal(out[14], 'FizzBuzz');
  assert.equal(out[6], '7');
});
