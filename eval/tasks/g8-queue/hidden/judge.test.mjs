import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Queue } from '../src/queue.js';
test('queue', () => {
  const q = new Queue();
  assert.equal(q.length, 0);
  assert.equal(q.peek(), undefined);
  q.enqueue(1);
  q.enqueue(2);
  assert.equal(q.peek(), 1);
  assert.equal(q.length, 2);
  assert.equal(q.dequeue(), 1);
  assert.equal(q.length, 1);
  assert.equal(q.dequeue(), 2);
  assert.throws(() => q.dequeue(), Error);
});
