import type { IncomingHttpHeaders } from 'node:http';
import { groupAllowed, type Principal } from '../access.ts';
import type { EngineContext } from '../engines/engine.ts';
import { ApiError, badRequest, notFound, permissionDenied } from '../reply.ts';
import type { RouteDef } from '../router.ts';
import type { Secret, SecretType } from '../store.ts';
import type { VaultToken } from '../vault-auth.ts';
import type { World } from '../world.ts';

/** What a handler sees of a request. */
export interface RequestContext {
  world: World;
  method: string;
  pathname: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The raw body ('' when none). */
  rawBody: string;
  /** The body parsed as JSON; undefined when empty. Vault routes reject bodies that are not JSON. */
  body: unknown;
  /** Set by the server on routes that need a Vault token. */
  token: VaultToken | undefined;
}

export type Route = RouteDef<RequestContext>;

export function principal(ctx: RequestContext): Principal {
  if (!ctx.token) throw permissionDenied();
  return ctx.token.principal;
}

export function engineContext(ctx: RequestContext, p: Principal = principal(ctx)): EngineContext {
  return { world: ctx.world, createdBy: p.iamId, now: ctx.world.clock(), strict: true };
}

/** The body as an object; `{}` when there is none. */
export function bodyObject(ctx: RequestContext): Record<string, unknown> {
  if (ctx.body === undefined) return {};
  if (typeof ctx.body !== 'object' || ctx.body === null || Array.isArray(ctx.body)) {
    throw badRequest('the request body must be a JSON object');
  }
  return ctx.body as Record<string, unknown>;
}

/** A group path parameter (ID, or name as a convenience) to a group ID the caller may use. */
export function groupParam(ctx: RequestContext, group: string): string {
  const id = ctx.world.store.resolveGroupId(group);
  if (id === undefined) throw notFound(`secret group "${group}" not found`);
  requireGroup(ctx, id);
  return id;
}

export function requireGroup(ctx: RequestContext, groupId: string): void {
  if (!groupAllowed(principal(ctx), groupId)) throw permissionDenied();
}

/** Finds a secret by ID or name (in the named group, else the default one) and checks access. */
export function findSecret(
  ctx: RequestContext,
  type: SecretType,
  group: string | undefined,
  idOrName: string,
): Secret {
  const groupId = group === undefined ? undefined : groupParam(ctx, group);
  const secret = ctx.world.store.find(type, groupId, idOrName);
  if (!secret) throw notFound(`${type} secret "${idOrName}" not found`);
  requireGroup(ctx, secret.groupId);
  return secret;
}

/** Paging as the lists document it: `limit` (default 25 for locks), `offset`, `search`. */
export function page<T>(
  items: T[],
  query: URLSearchParams,
  nameOf: (t: T) => string,
  defaultLimit: number,
): T[] {
  const search = query.get('search');
  const filtered = search ? items.filter((t) => nameOf(t).includes(search)) : items;
  const offset = intParam(query, 'offset') ?? 0;
  const limit = intParam(query, 'limit') ?? defaultLimit;
  return filtered.slice(offset, offset + limit);
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new ApiError(400, `${name} must be a non-negative integer`);
  return n;
}
