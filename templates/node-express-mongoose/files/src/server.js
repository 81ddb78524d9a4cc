import mongoose from 'mongoose';
import { createApp } from './app.js';
import { memoryRepository } from './repository/memory.js';
import { mongooseRepository } from './repository/mongoose.js';

const port = Number(process.env.PORT ?? 3000);
let repository;
if (process.env.MONGODB_URI) {
  await mongoose.connect(process.env.MONGODB_URI);
  repository = mongooseRepository();
  console.log('data: MongoDB');
} else {
  repository = memoryRepository();
  console.log('data: in memory (set MONGODB_URI to use MongoDB)');
}

createApp({ repository }).listen(port, () => {
  console.log(`{{ name }} listening on http://localhost:${port}`);
});
