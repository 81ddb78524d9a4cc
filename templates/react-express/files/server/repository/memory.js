import { randomUUID } from 'node:crypto';

// Data in memory: the tests use it, and the server when no database is configured.
export function memoryRepository() {
  const items = new Map();
{% if options.auth == "yes" %}
  const users = new Map();
{% endif %}
  return {
    items: {
      async list() {
        return [...items.values()];
      },
      async create({ name }) {
        const item = { id: randomUUID(), name, createdAt: new Date().toISOString() };
        items.set(item.id, item);
        return item;
      },
      async remove(id) {
        return items.delete(id);
      },
    },
{% if options.auth == "yes" %}
    users: {
      async create({ email, passwordHash }) {
        const user = { id: randomUUID(), email, passwordHash };
        users.set(email, user);
        return user;
      },
      async findByEmail(email) {
        return users.get(email) ?? null;
      },
    },
{% endif %}
  };
}
