// @vitest-environment node
import request from 'supertest';
import { createApp } from '../app.js';
import { memoryRepository } from '../repository/memory.js';

function app() {
  return createApp({ repository: memoryRepository() });
}
{% if options.auth == "yes" %}

async function signedIn(server) {
  const res = await request(server).post('/api/auth/register').send({ email: 'a@example.com', password: 'password1' });
  return { Authorization: `Bearer ${res.body.token}` };
}
{% endif %}

test('health answers', async () => {
  const res = await request(app()).get('/api/health');
  expect(res.status).toBe(200);
  expect(res.body).toEqual({ ok: true });
});

test('items are created, listed and removed', async () => {
  const server = app();
{% if options.auth == "yes" %}
  const headers = await signedIn(server);
{% else %}
  const headers = {};
{% endif %}
  const created = await request(server).post('/api/items').set(headers).send({ name: 'first' });
  expect(created.status).toBe(201);
  const list = await request(server).get('/api/items');
  expect(list.body.map((i) => i.name)).toEqual(['first']);
  expect((await request(server).delete(`/api/items/${created.body.id}`).set(headers)).status).toBe(204);
  expect((await request(server).get('/api/items')).body).toEqual([]);
});

test('an item needs a name', async () => {
  const server = app();
{% if options.auth == "yes" %}
  const headers = await signedIn(server);
{% else %}
  const headers = {};
{% endif %}
  const res = await request(server).post('/api/items').set(headers).send({});
  expect(res.status).toBe(400);
});
