// remoteRef.version: `current` is read through the Vault API like any secret; `previous` or a
// version ID through the REST API v2 (`GET /api/v2/secrets/{id}/versions/{version_id}`, with
// the IAM token), which names its fields differently. Secrets Manager keeps the payload of the
// current and previous versions only: an older version answers with `payload_available: false`.
import { z } from 'zod';
import { SecretsManagerError } from './errors.ts';
import {
  type RemoteSecret,
  SecretDataSchema,
  type SecretRef,
  SecretTypeSchema,
  toRemoteSecret,
} from './types.ts';

/** Whether `ref` asks for a version other than the current one. */
export function isVersioned(ref: Pick<SecretRef, 'version'>): boolean {
  return ref.version !== undefined && ref.version !== '' && ref.version !== 'current';
}

/** iam_credentials mint a new key on each read: there is no older version to read. */
export function checkVersion(ref: SecretRef): void {
  if (isVersioned(ref) && ref.type === 'iam_credentials') {
    throw new SecretsManagerError(
      'InvalidRequest',
      `version "${ref.version}": an iam_credentials secret mints a new API key on every read, so ` +
        'it has no earlier version to read; remove version (or set it to "current")',
    );
  }
}

/** The secret exists but has no such version. */
export function missingVersion(target: string): SecretsManagerError {
  return new SecretsManagerError(
    'InvalidRequest',
    `${target} does not exist (the secret does): use current, previous or the ID of one of its versions`,
    { operation: 'get_secret_version' },
  );
}

export const SecretVersionSchema = z.looseObject({
  id: z.string(),
  secret_id: z.string(),
  secret_name: z.string().nullish(),
  secret_type: SecretTypeSchema,
  secret_group_id: z.string().nullish(),
  creation_date: z.string().nullish(),
  payload_available: z.boolean().nullish(),
  alias: z.string().nullish(),
});
export type SecretVersionData = z.infer<typeof SecretVersionSchema>;

/** The REST API's version fields in the Vault API's `secret_data` shape. */
function secretData(v: Record<string, unknown>): Record<string, unknown> {
  switch (v.secret_type) {
    case 'kv':
      return { payload: v.data };
    case 'service_credentials':
      return (v.credentials as Record<string, unknown> | undefined) ?? {};
    default: {
      const out: Record<string, unknown> = {};
      for (const key of [
        'payload',
        'username',
        'password',
        'certificate',
        'private_key',
        'intermediate',
        'issuing_ca',
        'ca_chain',
      ]) {
        if (v[key] !== undefined && v[key] !== null) out[key] = v[key];
      }
      return out;
    }
  }
}

/** The version as a RemoteSecret; errors name the secret and version, never a value. */
export function versionToRemoteSecret(
  v: SecretVersionData,
  ref: SecretRef,
  target: string,
  receivedAt: number,
): RemoteSecret {
  if (v.secret_type !== ref.type) {
    throw new SecretsManagerError(
      'InvalidResponse',
      `get_secret_version ${target}: the server returned a ${v.secret_type} secret`,
      { operation: 'get_secret_version' },
    );
  }
  if (v.payload_available === false) {
    throw new SecretsManagerError(
      'InvalidRequest',
      `${target} no longer has its data: Secrets Manager keeps the data of the current and ` +
        'previous versions only; use current, previous or a newer version ID',
      { operation: 'get_secret_version' },
    );
  }
  const parsed = SecretDataSchema.safeParse({
    id: v.secret_id,
    name: v.secret_name ?? ref.name ?? v.secret_id,
    secret_type: v.secret_type,
    ...(v.secret_group_id ? { secret_group_id: v.secret_group_id } : {}),
    ...(v.creation_date ? { last_update_date: v.creation_date } : {}),
    versions: [{ id: v.id }],
    secret_data: secretData(v),
  });
  const secret = parsed.success ? toRemoteSecret(parsed.data, {}, receivedAt) : undefined;
  if (!secret) {
    throw new SecretsManagerError(
      'InvalidResponse',
      `get_secret_version ${target}: the response lacks the fields of a ${v.secret_type} secret`,
      { operation: 'get_secret_version' },
    );
  }
  return secret;
}
