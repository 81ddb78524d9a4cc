import { test } from 'node:test';
import assert from 'node:assert/strict';
import { romanToInt } from '../src/roman.js';
test('roman', () => {
  assert.equal(romanToInt('III'), 3);
  assert.equal(romanToInt('IV'), 4);
  assert.equal(romanToInt('MCMXCIV'), 1994);
  assert.equal(romanToInt('LVIII'), 58);
});
