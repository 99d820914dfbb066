// The REST API v2's `GET /api/v2/secrets/{id}/versions/{version_id}`: one version of a secret,
// by ID or by the aliases `current` and `previous`, with the IAM token (not a Vault token). The
// fields are the REST API's names (payload, data, username/password, certificate…, credentials).
// Only the current and previous versions keep their payload; an older one answers 200 with its
// metadata and `payload_available: false`, and no secret fields (as the service documents: it
// keeps the metadata of up to 50 versions, and the data of the two newest only).
import { ApiError, json, type Reply } from '../reply.ts';
import { aliasOf, type SecretVersion, versionByRef } from '../store.ts';
import { rfc3339 } from '../util.ts';
import type { RequestContext, Route } from './context.ts';
import { restSecret } from './iam.ts';

/** A version's `secret_data` (the Vault API's shape) in the REST API's field names. */
function restFields(type: string, data: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case 'kv':
      return { data: data.payload ?? {} };
    case 'service_credentials':
      return { credentials: data };
    default:
      return { ...data };
  }
}

function getVersion(ctx: RequestContext, secretId: string, versionId: string): Reply {
  const secret = restSecret(
    ctx,
    secretId,
    'value',
    'you do not have access to read secret versions',
  );
  if (secret.type === 'iam_credentials') {
    // Its versions are minted credentials; reading one through this route is not emulated.
    throw new ApiError(
      400,
      'reading a version of an iam_credentials secret is not supported',
      'bad_request',
    );
  }
  let version: SecretVersion;
  try {
    version = versionByRef(secret, versionId);
  } catch {
    throw new ApiError(404, `secret version ${versionId} not found`, 'secret_version_not_found');
  }
  const alias = aliasOf(secret, version);
  const body: Record<string, unknown> = {
    ...version.fields,
    id: version.id,
    secret_id: secret.id,
    secret_name: secret.name,
    secret_type: secret.type,
    secret_group_id: secret.groupId,
    created_by: version.createdBy,
    creation_date: rfc3339(version.createdAt),
    auto_rotated: version.autoRotated,
    downloaded: version.downloaded,
    payload_available: version.data !== undefined,
    ...(alias ? { alias } : {}),
  };
  if (version.data !== undefined) {
    version.downloaded = true;
    Object.assign(body, restFields(secret.type, version.data));
  }
  return json(200, body);
}

export function versionRoutes(): Route[] {
  return [
    {
      method: 'GET',
      pattern: '/api/v2/secrets/:id/versions/:version',
      family: 'rest',
      handler: (ctx, p) => getVersion(ctx, p.id!, p.version!),
    },
  ];
}
