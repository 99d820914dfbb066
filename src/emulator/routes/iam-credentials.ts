import { readCredential } from '../engines/iam-credentials.ts';
import { ENGINES } from '../engines/index.ts';
import { renderObject } from '../render.ts';
import { type Reply, vault } from '../reply.ts';
import type { Params } from '../router.ts';
import { findSecret, type RequestContext, type Route } from './context.ts';
import {
  createHandler,
  deleteHandler,
  getPoliciesHandler,
  listHandler,
  metadataHandler,
  putPoliciesHandler,
  rotateHandler,
  updateMetadataHandler,
} from './secrets.ts';

const IAM = ['iam_credentials'] as const;
const T = 'iam_credentials';

/**
 * `GET iam_credentials/creds/{id|name}`: mints a service ID and API key (or returns the current
 * pair with `reuse_api_key`). As in the service's examples, `ttl` is the secret's TTL in seconds
 * and `last_update_date` the time the credentials handed out were generated (each new pair is a
 * new version of the secret), so a reader of a reused key learns when it expires. The lease
 * fields are empty, unless the emulator runs with lease IDs (then `lease_duration` is what the
 * key has left, as Vault reports a lease).
 */
function readCreds(ctx: RequestContext, group: string | undefined, id: string): Reply {
  const secret = findSecret(ctx, T, group, id);
  const { cred } = readCredential(ctx.world, secret);
  const remaining = Math.max(0, Math.ceil((cred.expiresAt - ctx.world.clock()) / 1000));
  const data = renderObject(ctx.world, ENGINES[T], secret, 'metadata');
  data.api_key = cred.apiKey;
  data.service_id = cred.serviceId;
  data.ttl = Math.round((cred.expiresAt - cred.issuedAt) / 1000);
  const sorted = Object.fromEntries(Object.entries(data).sort(([a], [b]) => (a < b ? -1 : 1)));
  return cred.leaseId
    ? vault(sorted, { leaseId: cred.leaseId, leaseDuration: remaining, renewable: false })
    : vault(sorted);
}

/** The role (secret definition) routes under `roles`, and the credential reads under `creds`. */
export function iamCredentialRoutes(): Route[] {
  const routes: Route[] = [];
  for (const [roles, creds, grouped] of [
    ['/v1/ibmcloud/:type/roles', '/v1/ibmcloud/:type/creds', false],
    ['/v1/ibmcloud/:type/roles/groups/:group', '/v1/ibmcloud/:type/creds/groups/:group', true],
  ] as const) {
    const grp = (p: Params) => (grouped ? p.group : undefined);
    const v = { family: 'vault', types: IAM } as const;
    routes.push(
      {
        ...v,
        method: 'POST',
        pattern: `${roles}/:name`,
        perm: 'write',
        handler: (c, p) => createHandler(c, T, grp(p), p.name),
      },
      {
        ...v,
        method: 'GET',
        pattern: roles,
        perm: 'metadata',
        handler: (c, p) => listHandler(c, T, grp(p)),
      },
      {
        ...v,
        method: 'GET',
        pattern: `${roles}/:id`,
        perm: 'metadata',
        handler: (c, p) => metadataHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'DELETE',
        pattern: `${roles}/:id`,
        perm: 'write',
        handler: (c, p) => deleteHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'GET',
        pattern: `${roles}/:id/metadata`,
        perm: 'metadata',
        handler: (c, p) => metadataHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'PUT',
        pattern: `${roles}/:id/metadata`,
        perm: 'write',
        handler: (c, p) => updateMetadataHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'POST',
        pattern: `${roles}/:id/rotate`,
        perm: 'write',
        handler: (c, p) => rotateHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'GET',
        pattern: `${roles}/:id/policies`,
        perm: 'metadata',
        handler: (c, p) => getPoliciesHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'PUT',
        pattern: `${roles}/:id/policies`,
        perm: 'write',
        handler: (c, p) => putPoliciesHandler(c, T, grp(p), p.id!),
      },
      {
        ...v,
        method: 'GET',
        pattern: `${creds}/:id`,
        perm: 'value',
        handler: (c, p) => readCreds(c, grp(p), p.id!),
      },
    );
  }
  return routes;
}
