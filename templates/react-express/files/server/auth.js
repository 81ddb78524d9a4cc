import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import express from 'express';

const hash = promisify(scrypt);

export async function hashPassword(password) {
  const salt = randomBytes(16).toString('hex');
  const key = await hash(password, salt, 64);
  return `${salt}:${key.toString('hex')}`;
}

export async function checkPassword(password, stored) {
  const [salt, key] = stored.split(':');
  const actual = await hash(password, salt, 64);
  return timingSafeEqual(actual, Buffer.from(key, 'hex'));
}

// POST /register and /login with {email, password}; both answer {token}. Tokens live in memory: a restart
// signs everyone out.
export function authRoutes(users) {
  const tokens = new Map();
  const router = express.Router();
  const issue = (user) => {
    const token = randomBytes(24).toString('hex');
    tokens.set(token, { id: user.id, email: user.email });
    return token;
  };
  const credentials = (body) => {
    const email = typeof body?.email === 'string' ? body.email.trim().toLowerCase() : '';
    const password = typeof body?.password === 'string' ? body.password : '';
    return email.includes('@') && password.length >= 8 ? { email, password } : null;
  };

  router.post('/register', async (req, res, next) => {
    try {
      const given = credentials(req.body);
      if (!given) {
        res.status(400).json({ error: 'an email and a password of 8 characters or more are required' });
        return;
      }
      if (await users.findByEmail(given.email)) {
        res.status(409).json({ error: 'that email is taken' });
        return;
      }
      const user = await users.create({ email: given.email, passwordHash: await hashPassword(given.password) });
      res.status(201).json({ token: issue(user) });
    } catch (error) {
      next(error);
    }
  });

  router.post('/login', async (req, res, next) => {
    try {
      const given = credentials(req.body);
      const user = given && (await users.findByEmail(given.email));
      if (!user || !(await checkPassword(given.password, user.passwordHash))) {
        res.status(401).json({ error: 'wrong email or password' });
        return;
      }
      res.json({ token: issue(user) });
    } catch (error) {
      next(error);
    }
  });

  return { router, tokens };
}

// Routes behind it need `Authorization: Bearer <token>`; the user is req.user.
export function requireUser(tokens) {
  return (req, res, next) => {
    const token = (req.get('authorization') ?? '').replace(/^Bearer /, '');
    const user = tokens.get(token);
    if (!user) {
      res.status(401).json({ error: 'sign in first' });
      return;
    }
    req.user = user;
    next();
  };
}
