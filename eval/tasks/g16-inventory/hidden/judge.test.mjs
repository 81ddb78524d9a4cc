import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Inventory } from '../src/inventory.js';
test('inventory', () => {
  const inv = new Inventory();
  assert.equal(inv.count('apple'), 0);
  inv.add('apple', 3);
  inv.add('pear', 2);
  inv.add('apple', 1);
  assert.equal(inv.count('apple'), 4);
  assert.equal(inv.total, 6);
  inv.remove('apple', 4);
  assert.equal(inv.count('apple'), 0);
  assert.throws(() => inv.remove('pear', 3), Error);
  assert.throws(() => inv.add('pear', 0), RangeError);
  assert.throws(() => inv.add('pear', 1.5), RangeError);
});
