import { z } from 'zod';
import type { Principal } from '../access.ts';
import { groupAllowed } from '../access.ts';
import { parseBody } from '../engines/engine.ts';
import { ENGINES } from '../engines/index.ts';
import { renderJson } from '../render.ts';
import { badRequest, notFound, type Reply, vault, vaultRaw } from '../reply.ts';
import type { Params } from '../router.ts';
import { createSecret, deleteSecret, rotateSecret, updateMetadata } from '../secrets.ts';
import {
  currentVersion,
  DEFAULT_GROUP,
  SECRET_TYPES,
  type Secret,
  type SecretType,
} from '../store.ts';
import { rfc3339 } from '../util.ts';
import {
  bodyObject,
  engineContext,
  findSecret,
  groupParam,
  page,
  principal,
  type RequestContext,
  type Route,
  requireGroup,
} from './context.ts';

/** Types whose value is read at `{type}/secrets/{id}` (iam_credentials is read at `creds`). */
const VALUE_TYPES = SECRET_TYPES.filter((t) => t !== 'iam_credentials');

const type = (p: Params): SecretType => p.type as SecretType;

export function createHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  name?: string,
): Reply {
  const p = principal(ctx);
  const groupId = group === undefined ? DEFAULT_GROUP : groupParam(ctx, group);
  requireGroup(ctx, groupId);
  const body = bodyObject(ctx);
  const secret = createSecret(
    t,
    groupId,
    name === undefined ? body : { ...body, name },
    engineContext(ctx, p),
  );
  return vaultRaw(renderJson(ctx.world, ENGINES[t], secret, 'create'));
}

function getValue(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  const v = currentVersion(secret);
  if (!v?.data) throw notFound('the current version of this secret has no payload');
  if (!v.downloaded) {
    v.downloaded = true;
    secret.rendered.clear();
  }
  return vaultRaw(renderJson(ctx.world, ENGINES[t], secret, 'value'));
}

function visible(p: Principal, s: Secret): boolean {
  return groupAllowed(p, s.groupId);
}

export function listHandler(ctx: RequestContext, t: SecretType, group: string | undefined): Reply {
  const p = principal(ctx);
  const groupId = group === undefined ? undefined : groupParam(ctx, group);
  const all = ctx.world.store.list(t, groupId).filter((s) => visible(p, s));
  const items = page(all, ctx.query, (s) => s.name, Number.MAX_SAFE_INTEGER);
  const json = items.map((s) => renderJson(ctx.world, ENGINES[t], s, 'metadata')).join(',');
  return vaultRaw(`{"secrets":[${json}],"secrets_total":${all.length}}`);
}

export function metadataHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  return vaultRaw(renderJson(ctx.world, ENGINES[t], secret, 'metadata'));
}

export function updateMetadataHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  updateMetadata(secret, bodyObject(ctx), engineContext(ctx));
  return vaultRaw(renderJson(ctx.world, ENGINES[t], secret, 'metadata'));
}

export function rotateHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  rotateSecret(secret, bodyObject(ctx), engineContext(ctx));
  const view = t === 'iam_credentials' ? 'metadata' : 'value';
  return vaultRaw(renderJson(ctx.world, ENGINES[t], secret, view));
}

export function deleteHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  deleteSecret(secret, { world: ctx.world, strict: true });
  return vault(null);
}

const POLICY_TYPE = 'application/vnd.ibm.secrets-manager.secret.policy+json';

const policiesSchema = z.object({
  policies: z
    .array(
      z.object({
        rotation: z.object({ interval: z.number().int().min(1), unit: z.enum(['day', 'month']) }),
        type: z.literal(POLICY_TYPE).optional(),
      }),
    )
    .length(1),
});

function renderPolicies(ctx: RequestContext, secret: Secret): Reply {
  const p = secret.policy;
  const policies = p
    ? [
        {
          created_by: p.createdBy,
          creation_date: rfc3339(p.createdAt),
          crn: ctx.world.crn('policy', p.id),
          id: p.id,
          last_update_date: rfc3339(p.updatedAt),
          rotation: p.rotation,
          type: POLICY_TYPE,
          updated_by: p.updatedBy,
        },
      ]
    : [];
  return vault({ policies });
}

export function getPoliciesHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  return renderPolicies(ctx, findSecret(ctx, t, group, id));
}

export function putPoliciesHandler(
  ctx: RequestContext,
  t: SecretType,
  group: string | undefined,
  id: string,
): Reply {
  const secret = findSecret(ctx, t, group, id);
  if (t === 'iam_credentials')
    throw badRequest('rotation policies do not apply to iam_credentials secrets');
  const body = parseBody(policiesSchema, bodyObject(ctx));
  const rotation = body.policies[0]!.rotation;
  const p = principal(ctx);
  const now = ctx.world.clock();
  secret.policy = secret.policy
    ? { ...secret.policy, rotation, updatedAt: now, updatedBy: p.iamId }
    : {
        id: secret.id,
        createdBy: p.iamId,
        updatedBy: p.iamId,
        createdAt: now,
        updatedAt: now,
        rotation,
      };
  return renderPolicies(ctx, secret);
}

/** The generic secret routes, in the default group and in a named group (`groups/{group_id}`). */
export function secretRoutes(): Route[] {
  const routes: Route[] = [];
  const all = SECRET_TYPES;
  const base = '/v1/ibmcloud/:type/secrets';
  const g = (params: Params) => params.group;
  for (const [prefix, grouped] of [
    [base, false],
    [`${base}/groups/:group`, true],
  ] as const) {
    const grp = (p: Params) => (grouped ? g(p) : undefined);
    routes.push(
      {
        method: 'POST',
        pattern: prefix,
        family: 'vault',
        perm: 'write',
        types: all,
        handler: (c, p) => createHandler(c, type(p), grp(p)),
      },
      {
        method: 'GET',
        pattern: prefix,
        family: 'vault',
        perm: 'metadata',
        types: all,
        handler: (c, p) => listHandler(c, type(p), grp(p)),
      },
      {
        method: 'GET',
        pattern: `${prefix}/:id`,
        family: 'vault',
        perm: 'value',
        types: VALUE_TYPES,
        handler: (c, p) => getValue(c, type(p), grp(p), p.id!),
      },
      {
        method: 'DELETE',
        pattern: `${prefix}/:id`,
        family: 'vault',
        perm: 'write',
        types: all,
        handler: (c, p) => deleteHandler(c, type(p), grp(p), p.id!),
      },
      {
        method: 'GET',
        pattern: `${prefix}/:id/metadata`,
        family: 'vault',
        perm: 'metadata',
        types: all,
        handler: (c, p) => metadataHandler(c, type(p), grp(p), p.id!),
      },
      {
        method: 'PUT',
        pattern: `${prefix}/:id/metadata`,
        family: 'vault',
        perm: 'write',
        types: all,
        handler: (c, p) => updateMetadataHandler(c, type(p), grp(p), p.id!),
      },
      {
        method: 'POST',
        pattern: `${prefix}/:id/rotate`,
        family: 'vault',
        perm: 'write',
        types: all,
        handler: (c, p) => rotateHandler(c, type(p), grp(p), p.id!),
      },
      {
        method: 'GET',
        pattern: `${prefix}/:id/policies`,
        family: 'vault',
        perm: 'metadata',
        types: all,
        handler: (c, p) => getPoliciesHandler(c, type(p), grp(p), p.id!),
      },
      {
        method: 'PUT',
        pattern: `${prefix}/:id/policies`,
        family: 'vault',
        perm: 'write',
        types: all,
        handler: (c, p) => putPoliciesHandler(c, type(p), grp(p), p.id!),
      },
    );
  }
  return routes;
}
