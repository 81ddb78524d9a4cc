import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Item } from '../src/models/item.js';

// The model's validation runs without a database.
test('an item without a name is invalid', () => {
  const error = new Item({}).validateSync();
  assert.ok(error?.errors.name, 'name is required');
});

test('a name is trimmed', () => {
  assert.equal(new Item({ name: '  milk ' }).name, 'milk');
});
