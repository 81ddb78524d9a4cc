import express from 'express';
{% if options.auth == "yes" %}
import { authRoutes, requireUser } from './auth.js';
{% endif %}

// The JSON API under /api. `repository` is where the data lives (server/repository/): the tests pass the
// memory one.
export function createApp({ repository }) {
  const app = express();
  app.use(express.json());
{% if options.auth == "yes" %}
  const auth = authRoutes(repository.users);
  app.use('/api/auth', auth.router);
  const signedIn = requireUser(auth.tokens);
{% endif %}

  app.get('/api/health', (req, res) => {
    res.json({ ok: true });
  });

  app.get('/api/items', async (req, res, next) => {
    try {
      res.json(await repository.items.list());
    } catch (error) {
      next(error);
    }
  });

  app.post('/api/items', {% if options.auth == "yes" %}signedIn, {% endif %}async (req, res, next) => {
    try {
      const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
      if (!name) {
        res.status(400).json({ error: 'name is required' });
        return;
      }
      res.status(201).json(await repository.items.create({ name }));
    } catch (error) {
      next(error);
    }
  });

  app.delete('/api/items/:id', {% if options.auth == "yes" %}signedIn, {% endif %}async (req, res, next) => {
    try {
      const removed = await repository.items.remove(req.params.id);
      res.status(removed ? 204 : 404).end();
    } catch (error) {
      next(error);
    }
  });

  // eslint-disable-next-line no-unused-vars
  app.use((error, req, res, next) => {
    console.error(error);
    res.status(500).json({ error: 'internal error' });
  });

  return app;
}
