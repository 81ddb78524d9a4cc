import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords } from '../src/words.js';
test('words', () => {
  assert.equal(countWords('hello world'), 2);
  assert.equal(countWords('  spaced   out  text '), 3);
  assert.equal(countWords(''), 0);
  assert.equal(countWords('   '), 0);
});
