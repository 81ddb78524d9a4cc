import mongoose from 'mongoose';

const itemSchema = new mongoose.Schema(
  {
    name: { type: String, required: true, trim: true, maxlength: 200 },
  },
  { timestamps: true },
);

export const Item = mongoose.models.Item ?? mongoose.model('Item', itemSchema);
