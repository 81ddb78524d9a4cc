// @vitest-environment node
import { Item } from '../models/item.js';
{% if options.auth == "yes" %}
import { User } from '../models/user.js';
{% endif %}

// The models' validation runs without a database.
test('an item without a name is invalid', () => {
  expect(new Item({}).validateSync()?.errors.name).toBeTruthy();
});
{% if options.auth == "yes" %}

test('an email is kept in lower case', () => {
  expect(new User({ email: ' A@Example.COM ', passwordHash: 'x' }).email).toBe('a@example.com');
});
{% endif %}
