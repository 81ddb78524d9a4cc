import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration } from '../src/duration.js';
test('duration', () => {
  assert.equal(parseDuration('1h30m'), 5400);
  assert.equal(parseDuration('45s'), 45);
  assert.equal(parseDuration('2m5s'), 125);
  assert.equal(parseDuration('1h'), 3600);
  assert.throws(() => parseDuration(''), Error);
  assert.throws(() => parseDuration('5x'), Error);
});
