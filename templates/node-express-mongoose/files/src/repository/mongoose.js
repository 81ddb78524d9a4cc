import mongoose from 'mongoose';
import { Item } from '../models/item.js';

function plain(doc) {
  const { _id, __v, ...rest } = doc.toObject();
  return { id: String(_id), ...rest };
}

// Items in MongoDB, through the Mongoose model. Same functions as memory.js.
export function mongooseRepository() {
  return {
    async list() {
      return (await Item.find().sort({ createdAt: 1 })).map(plain);
    },
    async create({ name }) {
      return plain(await Item.create({ name }));
    },
    async get(id) {
      if (!mongoose.isValidObjectId(id)) return null;
      const doc = await Item.findById(id);
      return doc ? plain(doc) : null;
    },
    async remove(id) {
      if (!mongoose.isValidObjectId(id)) return false;
      return (await Item.findByIdAndDelete(id)) !== null;
    },
  };
}
