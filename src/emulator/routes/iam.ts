import { roleAllows } from '../access.ts';
import type { IamToken } from '../iam.ts';
import { ApiError, json, noContent, type Reply } from '../reply.ts';
import type { Permission } from '../router.ts';
import { type Secret, versionByRef } from '../store.ts';
import type { RequestContext, Route } from './context.ts';

/** The IAM access token of an `Authorization: Bearer` header, as IAM-fronted APIs require. */
export function bearer(ctx: RequestContext): IamToken {
  const header = ctx.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
  const verified = token ? ctx.world.iam.verify(token) : undefined;
  if (!verified)
    throw new ApiError(401, 'the IAM access token is missing, invalid or expired', 'unauthorized');
  return verified;
}

/**
 * The secret a REST API v2 request names, for a bearer whose role allows `perm` (`denied` is the
 * 403 message) and whose key may see the secret's group; 404 when there is no such secret.
 */
export function restSecret(
  ctx: RequestContext,
  secretId: string,
  perm: Permission,
  denied: string,
): Secret {
  const t = bearer(ctx);
  const w = ctx.world;
  const role = t.key.role;
  if (role === undefined || !roleAllows(role, perm)) throw new ApiError(403, denied, 'forbidden');
  const secret = w.store.secrets.get(secretId);
  const groups = t.key.groups?.map((g) => w.store.resolveGroupId(g) ?? g);
  if (secret && groups && !groups.includes(secret.groupId)) {
    throw new ApiError(403, 'you do not have access to this secret', 'forbidden');
  }
  if (!secret) throw new ApiError(404, `secret ${secretId} not found`, 'secret_not_found');
  return secret;
}

function exchangeToken(ctx: RequestContext): Reply {
  const w = ctx.world;
  w.counters.iamTokenExchanges++;
  try {
    return json(200, w.iam.exchange(new URLSearchParams(ctx.rawBody)));
  } catch (err) {
    w.counters.iamTokenExchangeFailures++;
    throw err;
  }
}

function deleteServiceId(ctx: RequestContext, id: string): Reply {
  const t = bearer(ctx);
  if (!t.key.identityOperator) {
    throw new ApiError(403, 'you are not authorized to delete this service ID', 'forbidden');
  }
  if (!ctx.world.iam.deleteServiceId(id)) {
    throw new ApiError(404, `Service ID ${id} not found.`, 'not_found');
  }
  return noContent();
}

/**
 * The REST API's `DELETE /api/v2/secrets/{id}/versions/{version_id}/secret_data`. For
 * iam_credentials it deletes the current version's service ID and API key (only the current
 * version, as documented); for other types it drops that version's payload.
 */
function deleteVersionData(ctx: RequestContext, secretId: string, versionId: string): Reply {
  const w = ctx.world;
  const secret = restSecret(
    ctx,
    secretId,
    'write',
    'you do not have access to delete secret version data',
  );
  if (secret.type === 'iam_credentials') {
    const latest = w.credentials.latest(secret.id);
    if (latest && (versionId === 'current' || versionId === latest.id)) {
      w.credentials.revoke(latest, 'secretData');
      return noContent();
    }
    const known = w.credentials.byId(versionId);
    if (known && known.secretId === secret.id) {
      throw new ApiError(
        400,
        'only the current version of an iam_credentials secret can have its data deleted',
        'bad_request',
      );
    }
    throw new ApiError(404, `secret version ${versionId} not found`, 'secret_version_not_found');
  }
  let version: ReturnType<typeof versionByRef>;
  try {
    version = versionByRef(secret, versionId);
  } catch {
    throw new ApiError(404, `secret version ${versionId} not found`, 'secret_version_not_found');
  }
  version.data = undefined;
  secret.rendered.clear();
  return noContent();
}

export function iamRoutes(): Route[] {
  return [
    { method: 'POST', pattern: '/identity/token', family: 'iam', handler: exchangeToken },
    {
      method: 'DELETE',
      pattern: '/v1/serviceids/:id',
      family: 'identity',
      handler: (ctx, p) => deleteServiceId(ctx, p.id!),
    },
    {
      method: 'DELETE',
      pattern: '/api/v2/secrets/:id/versions/:version/secret_data',
      family: 'rest',
      handler: (ctx, p) => deleteVersionData(ctx, p.id!, p.version!),
    },
  ];
}
