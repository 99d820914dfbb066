import { z } from 'zod';
import { badRequest } from '../reply.ts';
import { currentVersion } from '../store.ts';
import { type Engine, parseBody, versionBase } from './engine.ts';

/** Documented limit on a kv payload. */
const MAX_PAYLOAD_BYTES = 512 * 1024;

const payloadSchema = z.object({ payload: z.record(z.string(), z.unknown()) });

function payload(body: Record<string, unknown>): Record<string, unknown> {
  const p = parseBody(payloadSchema, body).payload;
  if (Buffer.byteLength(JSON.stringify(p)) > MAX_PAYLOAD_BYTES) {
    throw badRequest('the kv payload exceeds 512 KB');
  }
  return { payload: p };
}

/** Key-value secrets: a JSON object payload, which may nest. */
export const kvEngine: Engine = {
  type: 'kv',
  userExpiration: false,
  create(body) {
    return { attrs: {}, data: payload(body) };
  },
  rotate(_secret, body) {
    return { data: payload(body) };
  },
  decorate(secret, view, out) {
    out.downloaded = currentVersion(secret)?.downloaded ?? false;
    out.versions_total = secret.versions.length;
    if (view === 'metadata') return;
    out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = secret.versions.map((v) => ({
      ...versionBase(v),
      downloaded: v.downloaded,
      payload_available: v.data !== undefined,
    }));
  },
};
