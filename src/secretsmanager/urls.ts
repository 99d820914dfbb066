/**
 * Endpoint URLs and Vault API paths. The instance URL pattern and the region list are IBM's
 * (see PEERS.md); the paths are the ones seeds/004 documents.
 */
import { SecretsManagerError } from './errors.ts';
import type { SecretRef, SecretType } from './types.ts';

export const DEFAULT_IAM_URL = 'https://iam.cloud.ibm.com';

export const REGIONS = [
  'us-south',
  'us-east',
  'ca-tor',
  'ca-mon',
  'br-sao',
  'eu-gb',
  'eu-de',
  'eu-es',
  'jp-tok',
  'jp-osa',
  'au-syd',
  'in-mum',
  'in-che',
] as const;
export type Region = (typeof REGIONS)[number];

export function isRegion(r: string): r is Region {
  return (REGIONS as readonly string[]).includes(r);
}

// An instance ID is a GUID in practice; accept any DNS label so a future format still works.
const INSTANCE_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** `https://{instance_id}[.private].{region}.secrets-manager.appdomain.cloud` */
export function secretsManagerUrl(opts: {
  instanceId: string;
  region: string;
  private?: boolean;
}): string {
  const id = opts.instanceId.trim().toLowerCase();
  if (!INSTANCE_ID.test(id)) {
    throw new SecretsManagerError(
      'InvalidRequest',
      'instanceId must be the Secrets Manager instance ID (a GUID such as 0f4c764e-dc3d-44d1-bd60-a2f7cd91e0c0)',
    );
  }
  if (!isRegion(opts.region)) {
    throw new SecretsManagerError(
      'InvalidRequest',
      `region "${opts.region}" is not a Secrets Manager region; use one of ${REGIONS.join(', ')}`,
    );
  }
  const priv = opts.private ? '.private' : '';
  return `https://${id}${priv}.${opts.region}.secrets-manager.appdomain.cloud`;
}

/** Base URL without a trailing slash, validated as http(s). */
export function normalizeBaseUrl(url: string, what: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SecretsManagerError('InvalidRequest', `${what} "${url}" is not a valid URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new SecretsManagerError('InvalidRequest', `${what} must be an https:// URL`);
  }
  if (parsed.search || parsed.hash || parsed.username || parsed.password) {
    throw new SecretsManagerError(
      'InvalidRequest',
      `${what} must not contain credentials, a query or a fragment`,
    );
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

const seg = encodeURIComponent;

function isDefaultGroup(group: string | undefined): boolean {
  return group === undefined || group === '' || group === 'default';
}

function groupPrefix(group: string | undefined): string {
  return isDefaultGroup(group) ? '' : `/groups/${seg(group!)}`;
}

/** `GET /v1/ibmcloud/{type}/secrets[/groups/{group}]/{id|name}` (creds for iam_credentials). */
export function secretPath(ref: SecretRef): string {
  const key = ref.id ?? ref.name ?? '';
  const engine = ref.type === 'iam_credentials' ? 'creds' : 'secrets';
  return `/v1/ibmcloud/${ref.type}/${engine}${groupPrefix(ref.group)}/${seg(key)}`;
}

/**
 * A secret's metadata, which never carries its value and never mints: `.../secrets/{id}/metadata`,
 * and for IAM credentials the role definition, `.../iam_credentials/roles/{id}`.
 */
export function metadataPath(ref: SecretRef): string {
  const key = seg(ref.id ?? ref.name ?? '');
  return ref.type === 'iam_credentials'
    ? `/v1/ibmcloud/${ref.type}/roles${groupPrefix(ref.group)}/${key}`
    : `/v1/ibmcloud/${ref.type}/secrets${groupPrefix(ref.group)}/${key}/metadata`;
}

/**
 * `GET /v1/ibmcloud/{type}/secrets[/groups/{group}]`; IAM credentials are defined as Vault
 * roles (`POST .../iam_credentials/roles/{name}` creates one), so they are listed as roles.
 */
export function listPath(type: SecretType, group?: string): string {
  const collection = type === 'iam_credentials' ? 'roles' : 'secrets';
  return `/v1/ibmcloud/${type}/${collection}${groupPrefix(group)}`;
}

export const LOGIN_PATH = '/v1/auth/ibmcloud/login';
export const LEASE_REVOKE_PATH = '/v1/sys/leases/revoke';
export const IAM_TOKEN_PATH = '/identity/token';

export function secretVersionPath(secretId: string, versionId: string): string {
  return `/api/v2/secrets/${seg(secretId)}/versions/${seg(versionId)}`;
}

export function secretVersionDataPath(secretId: string, versionId: string): string {
  return `/api/v2/secrets/${seg(secretId)}/versions/${seg(versionId)}/secret_data`;
}

export function serviceIdPath(serviceId: string): string {
  return `/v1/serviceids/${seg(serviceId)}`;
}
