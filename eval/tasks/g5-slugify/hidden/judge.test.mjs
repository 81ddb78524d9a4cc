import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slugify } from '../src/slugify.js';
test('slugify', () => {
  assert.equal(slugify('Hello, World!'), 'hello-world');
  assert.equal(slugify(''), '');
  assert.equal(slugify('Hello-World'), 'hello-world');
  assert.equal(slugify('  A  b  '), 'a-b');
  assert.equal(slugify('x__y'), 'x-y');
  assert.equal(slugify('ABC123'), 'abc123');
});
