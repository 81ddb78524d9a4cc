import { randomUUID } from 'node:crypto';

// Items in memory: the tests use it, and the server when no MONGODB_URI is set. Same functions as
// mongoose.js.
export function memoryRepository() {
  const items = new Map();
  return {
    async list() {
      return [...items.values()];
    },
    async create({ name }) {
      const now = new Date().toISOString();
      const item = { id: randomUUID(), name, createdAt: now, updatedAt: now };
      items.set(item.id, item);
      return item;
    },
    async get(id) {
      return items.get(id) ?? null;
    },
    async remove(id) {
      return items.delete(id);
    },
  };
}
