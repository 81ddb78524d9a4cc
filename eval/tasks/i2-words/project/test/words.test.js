import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords } from '../src/words.js';
test('two', () => {
  assert.equal(countWords('hello world'), 2);
});
