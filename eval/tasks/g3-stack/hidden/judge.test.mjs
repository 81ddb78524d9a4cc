import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stack } from '../src/stack.js';
test('stack', () => {
  const s = new Stack();
  assert.equal(s.size, 0);
  assert.equal(s.pop(), undefined);
  s.push(1); s.push(2);
  assert.equal(s.peek(), 2);
  assert.equal(s.size, 2);
  assert.equal(s.pop(), 2);
  assert.equal(s.size, 1);
});
