import express from 'express';

// The HTTP API. `repository` is where the data lives (src/repository/): the tests pass the memory one.
export function createApp({ repository }) {
  const app = express();
  app.use(express.json());

  app.get('/health', (req, res) => {
    res.json({ ok: true });
  });

  app.get('/items', async (req, res, next) => {
    try {
      res.json(await repository.list());
    } catch (error) {
      next(error);
    }
  });

  app.post('/items', async (req, res, next) => {
    try {
      const name = typeof req.body?.name === 'string' ? req.body.name.trim() : '';
      if (!name) {
        res.status(400).json({ error: 'name is required' });
        return;
      }
      res.status(201).json(await repository.create({ name }));
    } catch (error) {
      next(error);
    }
  });

  app.get('/items/:id', async (req, res, next) => {
    try {
      const item = await repository.get(req.params.id);
      if (!item) {
        res.status(404).json({ error: 'not found' });
        return;
      }
      res.json(item);
    } catch (error) {
      next(error);
    }
  });

  app.delete('/items/:id', async (req, res, next) => {
    try {
      const removed = await repository.remove(req.params.id);
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
