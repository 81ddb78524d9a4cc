// @vitest-environment node
import request from 'supertest';
import { createApp } from '../app.js';
import { memoryRepository } from '../repository/memory.js';

const user = { email: 'a@example.com', password: 'password1' };

test('register, then log in', async () => {
  const server = createApp({ repository: memoryRepository() });
  const registered = await request(server).post('/api/auth/register').send(user);
  expect(registered.status).toBe(201);
  expect(registered.body.token).toBeTruthy();
  expect((await request(server).post('/api/auth/register').send(user)).status).toBe(409);
  const login = await request(server).post('/api/auth/login').send(user);
  expect(login.status).toBe(200);
  const wrong = await request(server).post('/api/auth/login').send({ ...user, password: 'wrong-password' });
  expect(wrong.status).toBe(401);
});

test('changing items needs a signed-in user', async () => {
  const server = createApp({ repository: memoryRepository() });
  expect((await request(server).post('/api/items').send({ name: 'x' })).status).toBe(401);
});
