import { test } from 'node:test';
import assert from 'node:assert/strict';
import request from 'supertest';
import { createApp } from '../src/app.js';
import { memoryRepository } from '../src/repository/memory.js';

function app() {
  return createApp({ repository: memoryRepository() });
}

test('health answers', async () => {
  const res = await request(app()).get('/health');
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { ok: true });
});

test('items are created, listed, read and removed', async () => {
  const server = app();
  const created = await request(server).post('/items').send({ name: 'first' });
  assert.equal(created.status, 201);
  assert.equal(created.body.name, 'first');

  const list = await request(server).get('/items');
  assert.deepEqual(list.body.map((i) => i.name), ['first']);

  const one = await request(server).get(`/items/${created.body.id}`);
  assert.equal(one.body.name, 'first');

  assert.equal((await request(server).delete(`/items/${created.body.id}`)).status, 204);
  assert.equal((await request(server).get(`/items/${created.body.id}`)).status, 404);
});

test('an item needs a name', async () => {
  const res = await request(app()).post('/items').send({});
  assert.equal(res.status, 400);
});
