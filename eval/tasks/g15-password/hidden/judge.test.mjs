import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkPassword } from '../src/password.js';
test('password', () => {
  assert.deepEqual(checkPassword('abc'), ['length', 'digit', 'upper']);
  assert.deepEqual(checkPassword('Abcdefg1'), []);
  assert.deepEqual(checkPassword('abcdefgh'), ['digit', 'upper']);
  assert.deepEqual(checkPassword('Abc1'), ['length']);
  assert.deepEqual(checkPassword('ABCDEFG1'), []);
});
