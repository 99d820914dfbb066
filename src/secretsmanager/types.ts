/**
 * The shapes of Secrets Manager's Vault API responses (seeds/004) as zod schemas, and the parsed
 * types the rest of the operator works with. Schemas are lenient about fields we do not use
 * (the service adds fields over time) and strict about the ones we do.
 */
import { z } from 'zod';

export const SECRET_TYPES = [
  'arbitrary',
  'kv',
  'username_password',
  'imported_cert',
  'public_cert',
  'private_cert',
  'service_credentials',
  'iam_credentials',
] as const;

export const SecretTypeSchema = z.enum(SECRET_TYPES);
export type SecretType = z.infer<typeof SecretTypeSchema>;

/** Which secret to read. Exactly one of `id` or `name`; `group` is a secret group ID. */
export interface SecretRef {
  type: SecretType;
  id?: string;
  name?: string;
  /** Secret group ID; omitted or `default` means the default group. */
  group?: string;
  /** Only `current` (or omitted) is readable through the Vault API; see client.getSecret. */
  version?: string;
}

// ---- envelope ---------------------------------------------------------------------------

/**
 * Vault's response envelope: `{request_id, lease_id, renewable, lease_duration, data, ...}`.
 * Build each envelope once, at module level: zod compiles a schema at its first parse, so a
 * schema built per response costs a compile per response.
 */
export function envelope<T extends z.ZodType>(data: T) {
  return z.looseObject({
    request_id: z.string().optional(),
    lease_id: z.string().nullish(),
    renewable: z.boolean().nullish(),
    lease_duration: z.number().nullish(),
    data,
  });
}

export const VaultErrorBodySchema = z.looseObject({ errors: z.array(z.unknown()) });

// ---- auth ---------------------------------------------------------------------------------

export const IamTokenResponseSchema = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: z.number().positive(),
  expiration: z.number().optional(),
});

export const IamErrorBodySchema = z.looseObject({
  errorCode: z.string().optional(),
  errorMessage: z.string().optional(),
});

export const VaultLoginResponseSchema = z.looseObject({
  auth: z.looseObject({
    client_token: z.string().min(1),
    lease_duration: z.number().nonnegative(),
    renewable: z.boolean().optional(),
  }),
});

// ---- secrets ------------------------------------------------------------------------------

const VersionSchema = z.looseObject({
  id: z.string(),
  creation_date: z.string().optional(),
  payload_available: z.boolean().optional(),
});

/** The metadata fields every secret type shares (get, list and metadata responses). */
const metadataShape = {
  id: z.string(),
  name: z.string(),
  secret_type: SecretTypeSchema,
  secret_group_id: z.string().nullish(),
  labels: z.array(z.string()).nullish(),
  description: z.string().nullish(),
  crn: z.string().nullish(),
  creation_date: z.string().nullish(),
  last_update_date: z.string().nullish(),
  expiration_date: z.string().nullish(),
  state: z.number().nullish(),
  state_description: z.string().nullish(),
  versions: z.array(VersionSchema).nullish(),
  versions_total: z.number().nullish(),
  /** iam_credentials only: whether reads hand out the same key until it expires. */
  reuse_api_key: z.boolean().nullish(),
};

export const SecretMetadataDataSchema = z.looseObject(metadataShape);

export const ListSecretsDataSchema = z.looseObject({
  secrets: z.array(SecretMetadataDataSchema).nullish(),
  secrets_total: z.number().nullish(),
});

const ArbitraryDataSchema = z.looseObject({
  ...metadataShape,
  secret_type: z.literal('arbitrary'),
  secret_data: z.looseObject({ payload: z.string() }),
});

const KvDataSchema = z.looseObject({
  ...metadataShape,
  secret_type: z.literal('kv'),
  secret_data: z.looseObject({ payload: z.record(z.string(), z.unknown()) }),
});

const UsernamePasswordDataSchema = z.looseObject({
  ...metadataShape,
  secret_type: z.literal('username_password'),
  secret_data: z.looseObject({ username: z.string(), password: z.string().optional() }),
});

const certificateData = z.looseObject({
  certificate: z.string(),
  private_key: z.string().nullish(),
  intermediate: z.string().nullish(),
  issuing_ca: z.string().nullish(),
  ca_chain: z.array(z.string()).nullish(),
});

const certificateMeta = {
  common_name: z.string().nullish(),
  issuer: z.string().nullish(),
  serial_number: z.string().nullish(),
  validity: z.looseObject({ not_before: z.string(), not_after: z.string() }).nullish(),
};

const ImportedCertDataSchema = z.looseObject({
  ...metadataShape,
  ...certificateMeta,
  secret_type: z.literal('imported_cert'),
  secret_data: certificateData,
});

const PublicCertDataSchema = z.looseObject({
  ...metadataShape,
  ...certificateMeta,
  secret_type: z.literal('public_cert'),
  secret_data: certificateData,
});

const PrivateCertDataSchema = z.looseObject({
  ...metadataShape,
  ...certificateMeta,
  secret_type: z.literal('private_cert'),
  secret_data: certificateData,
});

const ServiceCredentialsDataSchema = z.looseObject({
  ...metadataShape,
  secret_type: z.literal('service_credentials'),
  secret_data: z.record(z.string(), z.unknown()),
});

/** A TTL is seconds as a number, or a Go-style duration string (`30m`, `24h`, `90d`). */
const TtlSchema = z.union([z.number().nonnegative(), z.string()]);

export const IamCredentialsDataSchema = z.looseObject({
  ...metadataShape,
  secret_type: z.literal('iam_credentials'),
  api_key: z.string().min(1),
  api_key_id: z.string().nullish(),
  service_id: z.string().min(1),
  ttl: TtlSchema,
  reuse_api_key: z.boolean().nullish(),
  access_groups: z.array(z.string()).nullish(),
});

/** Value-bearing `data` of a get-secret response, discriminated by `secret_type`. */
export const SecretDataSchema = z.discriminatedUnion('secret_type', [
  ArbitraryDataSchema,
  KvDataSchema,
  UsernamePasswordDataSchema,
  ImportedCertDataSchema,
  PublicCertDataSchema,
  PrivateCertDataSchema,
  ServiceCredentialsDataSchema,
  IamCredentialsDataSchema,
]);
export type SecretData = z.infer<typeof SecretDataSchema>;

// ---- parsed types ---------------------------------------------------------------------------

export interface SecretMetadata {
  id: string;
  name: string;
  type: SecretType;
  /** Secret group ID; `default` for the default group. */
  groupId: string;
  labels: string[];
  description?: string;
  createdAt?: string;
  updatedAt?: string;
  expiresAt?: string;
  state?: number;
  stateDescription?: string;
  /** ID of the current version when the response lists versions (the last one listed). */
  currentVersionId?: string;
  versionsTotal?: number;
  /** iam_credentials only: reads return the same key until it expires (`reuse_api_key`). */
  reuseApiKey?: boolean;
}

export interface CertificateFields {
  certificate: string;
  privateKey?: string;
  intermediate?: string;
  issuingCa?: string;
  caChain?: string[];
  commonName?: string;
  issuer?: string;
  serialNumber?: string;
  notBefore?: string;
  notAfter?: string;
}

export interface IamCredentials {
  apiKey: string;
  apiKeyId?: string;
  serviceId: string;
  ttlSeconds: number;
  /** The Vault lease ID, when the server hands one out (generic Vault does; IBM's does not). */
  leaseId?: string;
  leaseDuration: number;
  renewable: boolean;
  secretId: string;
  secretName: string;
  /** Version of the secret that holds this credential, when the response says which. */
  secretVersionId?: string;
  groupId: string;
  /** The secret is set to hand out the same key until it expires (`reuse_api_key`). */
  reuseApiKey?: boolean;
  /**
   * When the credentials handed out were generated, by the server's clock (the secret's
   * `last_update_date`: each new pair is a new version). A reused key expires `ttlSeconds` after
   * this, not after the read.
   */
  createdAt?: number;
  /** Client clock (ms since epoch) when the response arrived. */
  receivedAt: number;
}

export type RemoteSecret =
  | { type: 'arbitrary'; metadata: SecretMetadata; payload: string }
  | { type: 'kv'; metadata: SecretMetadata; payload: Record<string, unknown> }
  | { type: 'username_password'; metadata: SecretMetadata; username: string; password?: string }
  | ({
      type: 'imported_cert' | 'public_cert' | 'private_cert';
      metadata: SecretMetadata;
    } & CertificateFields)
  | { type: 'service_credentials'; metadata: SecretMetadata; credentials: Record<string, unknown> }
  | { type: 'iam_credentials'; metadata: SecretMetadata; credentials: IamCredentials };

// ---- conversions ----------------------------------------------------------------------------

type MetadataData = z.infer<typeof SecretMetadataDataSchema>;

export function toMetadata(d: MetadataData): SecretMetadata {
  const last = d.versions?.at(-1);
  return {
    id: d.id,
    name: d.name,
    type: d.secret_type,
    groupId: d.secret_group_id || 'default',
    labels: d.labels ?? [],
    ...(d.description ? { description: d.description } : {}),
    ...(d.creation_date ? { createdAt: d.creation_date } : {}),
    ...(d.last_update_date ? { updatedAt: d.last_update_date } : {}),
    ...(d.expiration_date ? { expiresAt: d.expiration_date } : {}),
    ...(d.state != null ? { state: d.state } : {}),
    ...(d.state_description ? { stateDescription: d.state_description } : {}),
    ...(last ? { currentVersionId: last.id } : {}),
    ...(d.versions_total != null ? { versionsTotal: d.versions_total } : {}),
    ...(d.reuse_api_key != null ? { reuseApiKey: d.reuse_api_key } : {}),
  };
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds of a TTL given as a number or a duration string like `1h30m` or `90d`. */
export function ttlToSeconds(ttl: number | string): number | undefined {
  if (typeof ttl === 'number') return ttl;
  const s = ttl.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+(?:\.\d+)?)([smhd])/g;
  let total = 0;
  let consumed = 0;
  for (const m of s.matchAll(re)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? 's'] ?? 1);
    consumed += m[0].length;
  }
  return consumed === s.length && consumed > 0 ? Math.round(total) : undefined;
}

type CertData = Pick<
  z.infer<typeof ImportedCertDataSchema>,
  'secret_data' | 'common_name' | 'issuer' | 'serial_number' | 'validity'
>;

function certificateFields(d: CertData): CertificateFields {
  const sd = d.secret_data;
  return {
    certificate: sd.certificate,
    ...(sd.private_key ? { privateKey: sd.private_key } : {}),
    ...(sd.intermediate ? { intermediate: sd.intermediate } : {}),
    ...(sd.issuing_ca ? { issuingCa: sd.issuing_ca } : {}),
    ...(sd.ca_chain ? { caChain: sd.ca_chain } : {}),
    ...(d.common_name ? { commonName: d.common_name } : {}),
    ...(d.issuer ? { issuer: d.issuer } : {}),
    ...(d.serial_number ? { serialNumber: d.serial_number } : {}),
    ...(d.validity ? { notBefore: d.validity.not_before, notAfter: d.validity.not_after } : {}),
  };
}

export interface LeaseFields {
  leaseId?: string | null | undefined;
  leaseDuration?: number | null | undefined;
  renewable?: boolean | null | undefined;
}

export function toIamCredentials(
  d: z.infer<typeof IamCredentialsDataSchema>,
  lease: LeaseFields,
  receivedAt: number,
): IamCredentials | undefined {
  const ttlSeconds = ttlToSeconds(d.ttl);
  if (ttlSeconds === undefined) return undefined;
  const meta = toMetadata(d);
  const updated = d.last_update_date ? Date.parse(d.last_update_date) : Number.NaN;
  const createdAt = Number.isFinite(updated) ? updated : undefined;
  return {
    apiKey: d.api_key,
    ...(d.api_key_id ? { apiKeyId: d.api_key_id } : {}),
    serviceId: d.service_id,
    ttlSeconds,
    ...(lease.leaseId ? { leaseId: lease.leaseId } : {}),
    leaseDuration: lease.leaseDuration ?? 0,
    renewable: lease.renewable ?? false,
    secretId: d.id,
    secretName: d.name,
    ...(meta.currentVersionId ? { secretVersionId: meta.currentVersionId } : {}),
    groupId: meta.groupId,
    ...(d.reuse_api_key != null ? { reuseApiKey: d.reuse_api_key } : {}),
    ...(createdAt !== undefined ? { createdAt } : {}),
    receivedAt,
  };
}

/** Converts parsed `data` into the typed union; `undefined` when a TTL cannot be understood. */
export function toRemoteSecret(
  d: SecretData,
  lease: LeaseFields,
  receivedAt: number,
): RemoteSecret | undefined {
  const metadata = toMetadata(d);
  switch (d.secret_type) {
    case 'arbitrary':
      return { type: 'arbitrary', metadata, payload: d.secret_data.payload };
    case 'kv':
      return { type: 'kv', metadata, payload: d.secret_data.payload };
    case 'username_password':
      return {
        type: 'username_password',
        metadata,
        username: d.secret_data.username,
        ...(d.secret_data.password !== undefined ? { password: d.secret_data.password } : {}),
      };
    case 'imported_cert':
    case 'public_cert':
    case 'private_cert':
      return { type: d.secret_type, metadata, ...certificateFields(d) };
    case 'service_credentials':
      return { type: 'service_credentials', metadata, credentials: d.secret_data };
    case 'iam_credentials': {
      const credentials = toIamCredentials(d, lease, receivedAt);
      return credentials && { type: 'iam_credentials', metadata, credentials };
    }
  }
}

function stringify(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/**
 * Every field of a secret as a flat string map, in the field names of the Vault API: what an
 * ExternalSecret `dataFrom.extract` writes and what `remoteRef.property` selects from.
 * Nested values (kv payload objects, service credential maps) are JSON-encoded.
 */
export function secretFields(s: RemoteSecret): Record<string, string> {
  switch (s.type) {
    case 'arbitrary':
      return { payload: s.payload };
    case 'kv':
      return Object.fromEntries(Object.entries(s.payload).map(([k, v]) => [k, stringify(v)]));
    case 'username_password':
      return {
        username: s.username,
        ...(s.password !== undefined ? { password: s.password } : {}),
      };
    case 'imported_cert':
    case 'public_cert':
    case 'private_cert': {
      const out: Record<string, string> = { certificate: s.certificate };
      if (s.privateKey) out.private_key = s.privateKey;
      if (s.intermediate) out.intermediate = s.intermediate;
      if (s.issuingCa) out.issuing_ca = s.issuingCa;
      if (s.caChain) out.ca_chain = s.caChain.join('\n');
      return out;
    }
    case 'service_credentials':
      return Object.fromEntries(Object.entries(s.credentials).map(([k, v]) => [k, stringify(v)]));
    case 'iam_credentials':
      return { api_key: s.credentials.apiKey, service_id: s.credentials.serviceId };
  }
}
