import mongoose from 'mongoose';
import { Item } from '../models/item.js';
{% if options.auth == "yes" %}
import { User } from '../models/user.js';
{% endif %}

function plain(doc) {
  const { _id, __v, ...rest } = doc.toObject();
  return { id: String(_id), ...rest };
}

// Data in MongoDB through the Mongoose models; the same functions as memory.js.
export function mongooseRepository() {
  return {
    items: {
      async list() {
        return (await Item.find().sort({ createdAt: 1 })).map(plain);
      },
      async create({ name }) {
        return plain(await Item.create({ name }));
      },
      async remove(id) {
        if (!mongoose.isValidObjectId(id)) return false;
        return (await Item.findByIdAndDelete(id)) !== null;
      },
    },
{% if options.auth == "yes" %}
    users: {
      async create({ email, passwordHash }) {
        return plain(await User.create({ email, passwordHash }));
      },
      async findByEmail(email) {
        const doc = await User.findOne({ email });
        return doc ? plain(doc) : null;
      },
    },
{% endif %}
  };
}
