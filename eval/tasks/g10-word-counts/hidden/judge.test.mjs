import { test } from 'node:test';
import assert from 'node:assert/strict';
import { wordCounts } from '../src/words.js';
test('words', () => {
  assert.deepEqual(wordCounts('The cat and the hat'), { the: 2, cat: 1, and: 1, hat: 1 });
  assert.deepEqual(wordCounts(''), {});
  assert.deepEqual(wordCounts('Hi, hi! HI.'), { hi: 3 });
  assert.deepEqual(wordCounts('   '), {});
});
