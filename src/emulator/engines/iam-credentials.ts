import { z } from 'zod';
import type { Credential } from '../credentials.ts';
import { badRequest } from '../reply.ts';
import type { Secret } from '../store.ts';
import { parseDurationSeconds } from '../util.ts';
import { type Engine, type EngineContext, type EngineWorld, parseBody } from './engine.ts';

const ttlValue = z.union([z.string().min(1), z.number().int()]);

const createSchema = z.object({
  access_groups: z.array(z.string().min(1)).min(1).max(10),
  ttl: ttlValue,
  reuse_api_key: z.boolean().optional(),
});

const updateSchema = z.object({
  access_groups: z.array(z.string().min(1)).min(1).max(10).optional(),
  ttl: ttlValue.optional(),
  reuse_api_key: z.boolean().optional(),
});

/** TTL bounds are documented as 1 minute to 90 days; tests may lower the minimum. */
function ttlSeconds(value: unknown, world: EngineWorld): number {
  const s = parseDurationSeconds(value);
  const { minCredentialTtlSeconds: min, maxCredentialTtlSeconds: max } = world.opts;
  if (s === undefined || s < min || s > max) {
    throw badRequest(
      `ttl must be between ${min} seconds and 90 days (seconds, or a duration such as 30m)`,
    );
  }
  return s;
}

function requireEngine(ctx: EngineContext): void {
  if (ctx.strict && ctx.world.configs.iamApiKeyHash === undefined) {
    throw badRequest(
      'the IAM secrets engine is not configured: set its API key at iam_credentials/config/root',
    );
  }
}

/**
 * IAM credentials: the secret holds the recipe (access groups, TTL, reuse); each read mints a
 * service ID and API key, or hands back the current pair when `reuse_api_key` is set.
 */
export const iamCredentialsEngine: Engine = {
  type: 'iam_credentials',
  userExpiration: false,
  create(body, ctx) {
    requireEngine(ctx);
    const b = parseBody(createSchema, body);
    return {
      attrs: {
        access_groups: b.access_groups,
        ttl: ttlSeconds(b.ttl, ctx.world),
        reuse_api_key: b.reuse_api_key ?? false,
      },
      data: undefined,
    };
  },
  rotate(secret, _body, ctx) {
    if (secret.attrs.reuse_api_key !== true) {
      throw badRequest(
        'this iam_credentials secret does not reuse API keys: every read already returns a new one, so there is nothing to rotate',
      );
    }
    // A new current pair; the previous one stays valid until its own TTL.
    ctx.world.credentials.mint(secret, secret.attrs.ttl as number);
    return { data: undefined };
  },
  updateMetadata(secret, body, ctx) {
    const b = parseBody(updateSchema, body);
    if (b.access_groups) secret.attrs.access_groups = b.access_groups;
    if (b.ttl !== undefined) secret.attrs.ttl = ttlSeconds(b.ttl, ctx.world);
    if (b.reuse_api_key !== undefined) secret.attrs.reuse_api_key = b.reuse_api_key;
  },
  decorate(secret, _view, out) {
    out.access_groups = secret.attrs.access_groups;
    out.reuse_api_key = secret.attrs.reuse_api_key;
    out.ttl = secret.attrs.ttl;
  },
};

/** A read of `iam_credentials/creds/...`: a new pair, or the current one when reused. */
export function readCredential(
  world: EngineWorld,
  secret: Secret,
): { cred: Credential; reused: boolean } {
  if (secret.attrs.reuse_api_key === true) {
    const current = world.credentials.current(secret.id);
    if (current) {
      world.counters.credentialsReused++;
      return { cred: current, reused: true };
    }
  }
  requireEngine({ world, createdBy: '', now: world.clock(), strict: true });
  return { cred: world.credentials.mint(secret, secret.attrs.ttl as number), reused: false };
}
