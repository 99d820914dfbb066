import { z } from 'zod';
import { currentVersion } from '../store.ts';
import { randomString } from '../util.ts';
import { type Engine, parseBody, versionBase } from './engine.ts';

const createSchema = z.object({
  username: z.string().min(1),
  password: z.string().min(1).optional(),
});
const rotateSchema = z.object({ password: z.string().min(1).optional() });

/** The service generates a 32-character password when none is given. */
const generatePassword = (): string => randomString(32);

/** User credentials: a username and a password; rotation changes the password. */
export const usernamePasswordEngine: Engine = {
  type: 'username_password',
  userExpiration: true,
  create(body) {
    const b = parseBody(createSchema, body);
    return {
      attrs: {},
      data: { password: b.password ?? generatePassword(), username: b.username },
    };
  },
  rotate(secret, body) {
    const b = parseBody(rotateSchema, body);
    const username = currentVersion(secret)?.data?.username ?? '';
    return { data: { password: b.password ?? generatePassword(), username } };
  },
  decorate(secret, view, out) {
    if (view === 'metadata') return;
    out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = secret.versions.map((v) => ({ auto_rotated: v.autoRotated, ...versionBase(v) }));
  },
};
