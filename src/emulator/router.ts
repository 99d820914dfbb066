import type { Family, Reply } from './reply.ts';

/** What a route may do; checked against the caller's role before the handler runs. */
export type Permission = 'metadata' | 'value' | 'write' | 'manage';

export interface RouteDef<Ctx> {
  method: string;
  /** `/v1/ibmcloud/:type/secrets/:id`: literals, `:params`; `:type` is checked against `types`. */
  pattern: string;
  family: Family;
  /** Vault routes: the permission needed. Omitted = no Vault token required (login, IAM, admin). */
  perm?: Permission;
  /** Allowed values of `:type`. */
  types?: readonly string[];
  handler: (ctx: Ctx, params: Params) => Reply | Promise<Reply>;
}

export type Params = Record<string, string>;

export interface Match<Ctx> {
  route: RouteDef<Ctx>;
  params: Params;
  /** `"<METHOD> <route>"` with the type filled in: `GET /v1/ibmcloud/kv/secrets/{id}`. */
  key: string;
}

interface Compiled<Ctx> {
  route: RouteDef<Ctx>;
  segments: { literal?: string; param?: string }[];
  types: Set<string> | undefined;
  literals: number;
  keys: Map<string, string>;
}

/**
 * A segment matcher. Routes are bucketed by method and segment count, and within a bucket the
 * ones with more literal segments win, so `/secrets/groups/:group` beats `/secrets/:id/metadata`
 * for `/secrets/groups/x`.
 */
export class Router<Ctx> {
  readonly #buckets = new Map<string, Compiled<Ctx>[]>();

  add(route: RouteDef<Ctx>): void {
    const segments = route.pattern
      .split('/')
      .slice(1)
      .map((s) => (s.startsWith(':') ? { param: s.slice(1) } : { literal: s }));
    const compiled: Compiled<Ctx> = {
      route,
      segments,
      types: route.types ? new Set(route.types) : undefined,
      literals: segments.filter((s) => s.literal !== undefined).length,
      keys: new Map(),
    };
    const bucketKey = `${route.method} ${segments.length}`;
    const bucket = this.#buckets.get(bucketKey) ?? [];
    bucket.push(compiled);
    bucket.sort((a, b) => b.literals - a.literals);
    this.#buckets.set(bucketKey, bucket);
  }

  match(method: string, pathname: string): Match<Ctx> | undefined {
    const parts = pathname.split('/').slice(1);
    if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
    const bucket = this.#buckets.get(`${method} ${parts.length}`);
    if (!bucket) return undefined;
    for (const c of bucket) {
      const params = matchSegments(c, parts);
      if (params) return { route: c.route, params, key: keyFor(c, params.type) };
    }
    return undefined;
  }
}

function matchSegments<Ctx>(c: Compiled<Ctx>, parts: string[]): Params | undefined {
  const params: Params = {};
  for (let i = 0; i < c.segments.length; i++) {
    const seg = c.segments[i]!;
    const part = parts[i]!;
    if (seg.literal !== undefined) {
      if (seg.literal !== part) return undefined;
      continue;
    }
    if (part === '') return undefined;
    let value: string;
    try {
      value = decodeURIComponent(part);
    } catch {
      return undefined;
    }
    if (seg.param === 'type' && c.types && !c.types.has(value)) return undefined;
    params[seg.param!] = value;
  }
  return params;
}

function keyFor<Ctx>(c: Compiled<Ctx>, type: string | undefined): string {
  const cacheKey = type ?? '';
  let key = c.keys.get(cacheKey);
  if (key === undefined) {
    const path = c.segments
      .map((s) =>
        s.literal !== undefined ? s.literal : s.param === 'type' && type ? type : `{${s.param}}`,
      )
      .join('/');
    key = `${c.route.method} /${path}`;
    c.keys.set(cacheKey, key);
  }
  return key;
}
