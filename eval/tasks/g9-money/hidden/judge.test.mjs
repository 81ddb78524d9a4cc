import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatCents } from '../src/money.js';
test('money', () => {
  assert.equal(formatCents(1999), '$19.99');
  assert.equal(formatCents(-1999), '-$19.99');
  assert.equal(formatCents(5), '$0.05');
  assert.equal(formatCents(0), '$0.00');
  assert.equal(formatCents(-5), '-$0.05');
  assert.equal(formatCents(120), '$1.20');
});
