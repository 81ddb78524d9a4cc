import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Emitter } from '../src/emitter.js';
test('emitter', () => {
  const e = new Emitter();
  const seen = [];
  const off = e.on('x', (a, b) => seen.push(['first', a, b]));
  e.on('x', (a) => seen.push(['second', a]));
  assert.equal(e.emit('x', 1, 2), 2);
  assert.deepEqual(seen, [['first', 1, 2], ['second', 1]]);
  off();
  assert.equal(e.emit('x', 3), 1);
  assert.equal(e.emit('none'), 0);
});
