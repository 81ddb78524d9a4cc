import path from 'node:path';
import express from 'express';
{% if options.database == "mongoose" %}
import mongoose from 'mongoose';
import { mongooseRepository } from './repository/mongoose.js';
{% endif %}
import { createApp } from './app.js';
import { memoryRepository } from './repository/memory.js';

const port = Number(process.env.PORT ?? 3001);
{% if options.database == "mongoose" %}
let repository;
if (process.env.MONGODB_URI) {
  await mongoose.connect(process.env.MONGODB_URI);
  repository = mongooseRepository();
  console.log('data: MongoDB');
} else {
  repository = memoryRepository();
  console.log('data: in memory (set MONGODB_URI to use MongoDB)');
}
{% else %}
const repository = memoryRepository();
{% endif %}

const app = createApp({ repository });
// In production the server also serves the built client (npm run build writes dist/).
const dist = path.resolve(import.meta.dirname, '..', 'dist');
app.use(express.static(dist));
app.get(/^\/(?!api\/).*/, (req, res) => res.sendFile(path.join(dist, 'index.html')));

app.listen(port, () => {
  console.log(`{{ name }} API on http://localhost:${port}`);
});
