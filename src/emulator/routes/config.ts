import { z } from 'zod';
import { CONFIG_KINDS, type ConfigEngine } from '../engine-config.ts';
import { parseBody } from '../engines/engine.ts';
import { noContent, notFound, vault } from '../reply.ts';
import type { Params } from '../router.ts';
import { bodyObject, type RequestContext, type Route } from './context.ts';

const ENGINES = ['public_cert', 'private_cert'] as const;

const iamConfigSchema = z.object({ api_key: z.string().min(1) });
const entrySchema = z.object({
  name: z.string().min(1).max(256),
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
});

function kind(p: Params): { engine: ConfigEngine; kind: string } {
  const engine = p.type as ConfigEngine;
  const k = p.kind!;
  if (!(CONFIG_KINDS[engine] as readonly string[]).includes(k)) {
    throw notFound(`unknown ${engine} configuration "${k}"`);
  }
  return { engine, kind: k };
}

function putEntry(ctx: RequestContext, p: Params) {
  const { engine, kind: k } = kind(p);
  const b = parseBody(entrySchema, bodyObject(ctx));
  return vault(ctx.world.configs.put(engine, k, b, ctx.world.clock()));
}

/**
 * Secrets engine configuration: the iam_credentials root API key, and the certificate engines'
 * CAs, DNS providers and templates. The responses echo secrets redacted.
 */
export function configRoutes(): Route[] {
  const v = { family: 'vault', perm: 'manage' } as const;
  const iamRoot = '/v1/ibmcloud/:type/config/root';
  const entries = '/v1/ibmcloud/:type/config/:kind';
  const putIam = (ctx: RequestContext) => {
    const { api_key } = parseBody(iamConfigSchema, bodyObject(ctx));
    ctx.world.configs.setIamApiKey(api_key);
    return vault(null);
  };
  return [
    { ...v, method: 'PUT', pattern: iamRoot, types: ['iam_credentials'], handler: putIam },
    { ...v, method: 'POST', pattern: iamRoot, types: ['iam_credentials'], handler: putIam },
    {
      ...v,
      method: 'GET',
      pattern: iamRoot,
      types: ['iam_credentials'],
      handler: (ctx) => {
        const hash = ctx.world.configs.iamApiKeyHash;
        if (hash === undefined) throw notFound('the IAM secrets engine is not configured');
        return vault({ api_key_hash: hash });
      },
    },
    { ...v, method: 'PUT', pattern: entries, types: ENGINES, handler: putEntry },
    { ...v, method: 'POST', pattern: entries, types: ENGINES, handler: putEntry },
    {
      ...v,
      method: 'GET',
      pattern: entries,
      types: ENGINES,
      handler: (ctx, p) => {
        const { engine, kind: k } = kind(p);
        return vault({ [k]: ctx.world.configs.list(engine, k) });
      },
    },
    {
      ...v,
      method: 'GET',
      pattern: '/v1/ibmcloud/:type/config',
      types: ENGINES,
      handler: (ctx, p) => {
        const engine = p.type as ConfigEngine;
        const out: Record<string, unknown> = {};
        for (const k of CONFIG_KINDS[engine]) out[k] = ctx.world.configs.list(engine, k);
        return vault(out);
      },
    },
    {
      ...v,
      method: 'GET',
      pattern: `${entries}/:name`,
      types: ENGINES,
      handler: (ctx, p) => {
        const { engine, kind: k } = kind(p);
        const entry = ctx.world.configs.get(engine, k, p.name!);
        if (!entry) throw notFound(`configuration "${p.name}" not found`);
        return vault(entry);
      },
    },
    {
      ...v,
      method: 'PUT',
      pattern: `${entries}/:name`,
      types: ENGINES,
      handler: (ctx, p) => {
        const { engine, kind: k } = kind(p);
        const b = parseBody(entrySchema.partial({ name: true }), bodyObject(ctx));
        return vault(ctx.world.configs.put(engine, k, { ...b, name: p.name! }, ctx.world.clock()));
      },
    },
    {
      ...v,
      method: 'DELETE',
      pattern: `${entries}/:name`,
      types: ENGINES,
      handler: (ctx, p) => {
        const { engine, kind: k } = kind(p);
        ctx.world.configs.delete(engine, k, p.name!);
        return noContent();
      },
    },
  ];
}
