import { z } from 'zod';
import { currentVersion } from '../store.ts';
import { type Engine, parseBody, versionBase } from './engine.ts';

const payloadSchema = z.object({ payload: z.string() });

/** Arbitrary secrets: one string payload per version. */
export const arbitraryEngine: Engine = {
  type: 'arbitrary',
  userExpiration: true,
  create(body) {
    return { attrs: {}, data: { payload: parseBody(payloadSchema, body).payload } };
  },
  rotate(_secret, body) {
    return { data: { payload: parseBody(payloadSchema, body).payload } };
  },
  decorate(secret, view, out) {
    if (view === 'metadata') return;
    out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = secret.versions.map(versionBase);
  },
};
