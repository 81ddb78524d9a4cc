import { test } from 'node:test';
import assert from 'node:assert/strict';
import { slugify } from '../src/slug.js';
test('slugify', () => {
  assert.equal(slugify('Hello World'), 'hello-world');
  assert.equal(slugify('Rust  is   fun!'), 'rust-is-fun');
  assert.equal(slugify('a1 b2'), 'a1-b2');
});
