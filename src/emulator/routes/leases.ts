import { z } from 'zod';
import type { Credential } from '../credentials.ts';
import { parseBody } from '../engines/engine.ts';
import { badRequest, noContent, permissionDenied, vault } from '../reply.ts';
import { rfc3339 } from '../util.ts';
import { bodyObject, type RequestContext, type Route, requireGroup } from './context.ts';

const leaseSchema = z.object({
  lease_id: z.string().min(1),
  increment: z.number().int().optional(),
});

/**
 * Generic Vault's lease endpoints. Secrets Manager has no leases for IAM credentials (empty
 * `lease_id`), so these answer 403 like any undocumented path unless the emulator was started
 * with lease IDs.
 */
function lease(ctx: RequestContext): Credential {
  if (!ctx.world.opts.leaseIds) throw permissionDenied();
  const { lease_id } = parseBody(leaseSchema, bodyObject(ctx));
  const cred = ctx.world.credentials.byLeaseId(lease_id);
  if (!cred) throw badRequest('invalid lease ID');
  const secret = ctx.world.store.secrets.get(cred.secretId);
  if (secret) requireGroup(ctx, secret.groupId);
  return cred;
}

export function leaseRoutes(): Route[] {
  const v = { family: 'vault', perm: 'value' } as const;
  const revoke = (ctx: RequestContext) => {
    // Revoking an ended lease is not an error: the outcome the caller wants already holds.
    ctx.world.credentials.revoke(lease(ctx), 'leaseRevoke');
    return noContent();
  };
  const renew = (ctx: RequestContext) => {
    const cred = lease(ctx);
    if (!ctx.world.credentials.isLive(cred))
      throw badRequest('lease not found or lease is not renewable');
    throw badRequest('lease is not renewable');
  };
  const lookup = (ctx: RequestContext) => {
    const cred = lease(ctx);
    const live = ctx.world.credentials.isLive(cred);
    if (!live) throw badRequest('invalid lease');
    return vault({
      id: cred.leaseId,
      issue_time: rfc3339(cred.issuedAt),
      expire_time: rfc3339(cred.expiresAt),
      last_renewal: null,
      renewable: false,
      ttl: Math.max(0, Math.ceil((cred.expiresAt - ctx.world.clock()) / 1000)),
    });
  };
  return [
    { ...v, method: 'PUT', pattern: '/v1/sys/leases/revoke', handler: revoke },
    { ...v, method: 'POST', pattern: '/v1/sys/leases/revoke', handler: revoke },
    { ...v, method: 'PUT', pattern: '/v1/sys/leases/renew', handler: renew },
    { ...v, method: 'POST', pattern: '/v1/sys/leases/renew', handler: renew },
    { ...v, method: 'PUT', pattern: '/v1/sys/leases/lookup', handler: lookup },
    { ...v, method: 'POST', pattern: '/v1/sys/leases/lookup', handler: lookup },
  ];
}
