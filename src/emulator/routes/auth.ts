import { z } from 'zod';
import { parseBody } from '../engines/engine.ts';
import { badRequest, noContent, vault } from '../reply.ts';
import { formatGoDuration, parseDurationSeconds } from '../util.ts';
import { MAX_TOKEN_TTL_SECONDS } from '../vault-auth.ts';
import { bodyObject, type RequestContext, type Route } from './context.ts';

const loginSchema = z.object({ token: z.string().min(1) });

const configSchema = z.object({
  token_ttl: z.union([z.string(), z.number()]).optional(),
  token_max_ttl: z.union([z.string(), z.number()]).optional(),
});

function login(ctx: RequestContext) {
  const { token } = parseBody(loginSchema, bodyObject(ctx));
  const auth = ctx.world.auth.login(token);
  return vault(null, { auth });
}

function duration(name: string, value: string | number | undefined): number | undefined {
  if (value === undefined) return undefined;
  const s = parseDurationSeconds(value);
  if (s === undefined || s <= 0)
    throw badRequest(`${name} must be a duration such as 300s or 2h45m`);
  if (s > MAX_TOKEN_TTL_SECONDS) throw badRequest(`${name} cannot exceed 24h`);
  return s;
}

/** Login, and the login token configuration (TTL and max TTL of Vault tokens). */
export function authRoutes(): Route[] {
  const login$ = { pattern: '/v1/auth/ibmcloud/login', family: 'vault', handler: login } as const;
  const config = '/v1/auth/ibmcloud/manage/login';
  const putConfig = (ctx: RequestContext) => {
    const b = parseBody(configSchema, bodyObject(ctx));
    const ttl = duration('token_ttl', b.token_ttl);
    const maxTtl = duration('token_max_ttl', b.token_max_ttl);
    const current = ctx.world.auth.config;
    const next = {
      tokenTtlSeconds: ttl ?? current.tokenTtlSeconds,
      tokenMaxTtlSeconds: maxTtl ?? current.tokenMaxTtlSeconds,
    };
    if (next.tokenTtlSeconds > next.tokenMaxTtlSeconds) {
      throw badRequest('token_ttl cannot be greater than token_max_ttl');
    }
    ctx.world.auth.setConfig(next);
    return noContent();
  };
  return [
    { ...login$, method: 'PUT' },
    { ...login$, method: 'POST' },
    { method: 'PUT', pattern: config, family: 'vault', perm: 'manage', handler: putConfig },
    { method: 'POST', pattern: config, family: 'vault', perm: 'manage', handler: putConfig },
    {
      method: 'GET',
      pattern: config,
      family: 'vault',
      perm: 'manage',
      handler: (ctx) => {
        const c = ctx.world.auth.config;
        return vault({
          login: {
            token_max_ttl: formatGoDuration(c.tokenMaxTtlSeconds),
            token_ttl: formatGoDuration(c.tokenTtlSeconds),
          },
        });
      },
    },
  ];
}
