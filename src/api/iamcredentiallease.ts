import { z } from 'zod';
import {
  conditionList,
  ObjectMeta,
  objectName,
  remoteId,
  remoteName,
  rolloutRestartTargetsField,
  secretDataKey,
  storeRefField,
  stringMap,
  timestamp,
} from './common.ts';
import { durationField, parseDuration } from './duration.ts';
import { API_VERSION } from './group.ts';
import { withRules } from './rules.ts';
import { REVOCATION_METHODS } from './store.ts';
import { LeaseTemplate } from './template.ts';

export const DEFAULT_RENEW_FRACTION = 2 / 3;
export const DEFAULT_GRACE_PERIOD = '5m';
export const DEFAULT_API_KEY_KEY = 'apikey';
export const DEFAULT_SERVICE_ID_KEY = 'service_id';
/** Renewal lands at a random point in the last 10% before the configured moment, never after. */
export const RENEW_JITTER = 0.1;

export const LEASE_REASONS = {
  Leased: 'Leased',
  /**
   * spec.target.template could not be read or rendered; nothing is leased or written until it
   * is fixed. The message names the key and line:column, never a value.
   */
  TemplateError: 'TemplateError',
  Renewing: 'Renewing',
  LeaseExpired: 'LeaseExpired',
  RevocationFailed: 'RevocationFailed',
  StoreNotReady: 'StoreNotReady',
  InvalidSpec: 'InvalidSpec',
  Forbidden: 'Forbidden',
  /** The iam_credentials secret does not exist in Secrets Manager. */
  RemoteSecretNotFound: 'RemoteSecretNotFound',
  /** Reading a credential failed (Secrets Manager refused or failed) and none is valid. */
  LeaseFailed: 'LeaseFailed',
  /** The resource is being deleted and its credentials are being revoked. */
  Deleting: 'Deleting',
  /** The target Secret exists and belongs to someone else; nothing is leased into it. */
  TargetConflict: 'TargetConflict',
} as const;

/** The condition that says whether every credential the lease no longer uses is revoked. */
export const REVOKED_CONDITION = 'CredentialsRevoked';
export const REVOCATION_REASONS = {
  /** Nothing waits to be revoked. */
  AllRevoked: 'AllRevoked',
  /** Replaced credentials wait for the end of their grace period. */
  GracePeriod: 'GracePeriod',
  /** A revocation attempt failed; it is retried with backoff. */
  RevocationFailed: 'RevocationFailed',
} as const;

export const CredentialSource = withRules(
  z
    .object({
      id: remoteId()
        .optional()
        .describe(
          'The ID of the iam_credentials secret. Set id or name. Example: 0a1b2c3d-aaaa-bbbb-cccc-0123456789ab.',
        ),
      name: remoteName()
        .optional()
        .describe('The name of the iam_credentials secret. Set id or name. Example: cos-writer.'),
      group: remoteId()
        .optional()
        .describe('The ID of the secret group the secret is in. Default: the default group.'),
    })
    .describe(
      'The iam_credentials secret to lease from; each lease mints a service ID and API key ' +
        '(or returns the current pair when the secret has reuse_api_key). Example: {name: cos-writer}.',
    ),
  [
    {
      cel: 'has(self.id) != has(self.name)',
      message: 'set exactly one of id or name',
      holds: (value) => (value.id === undefined) !== (value.name === undefined),
    },
  ],
);
export type CredentialSource = z.infer<typeof CredentialSource>;

const DEFAULT_KEYS = { apiKey: DEFAULT_API_KEY_KEY, serviceId: DEFAULT_SERVICE_ID_KEY };

export const LeaseTargetKeys = withRules(
  z
    .object({
      apiKey: secretDataKey()
        .default(DEFAULT_API_KEY_KEY)
        .describe('The Secret key for the API key. Default: apikey.'),
      serviceId: secretDataKey()
        .default(DEFAULT_SERVICE_ID_KEY)
        .describe('The Secret key for the service ID. Default: service_id.'),
    })
    .describe('The keys the credential is written under.'),
  [
    {
      cel: 'self.apiKey != self.serviceId',
      message: 'apiKey and serviceId must be different keys',
      holds: (value) => value.apiKey !== value.serviceId,
    },
  ],
);

export const LeaseTarget = z
  .object({
    name: objectName()
      .optional()
      .describe('The name of the Secret to write, in this namespace. Default: metadata.name.'),
    keys: LeaseTargetKeys.default(DEFAULT_KEYS),
    labels: stringMap()
      .optional()
      .describe('Labels to set on the Secret. Example: {app: uploader}.'),
    annotations: stringMap().optional().describe('Annotations to set on the Secret.'),
    template: LeaseTemplate.optional(),
  })
  .describe(
    'The Secret that holds the current credential, owned by this resource. Changing it rewrites ' +
      'the Secret without minting a new credential.',
  );
export type LeaseTarget = z.infer<typeof LeaseTarget>;

export const IAMCredentialLeaseSpec = withRules(
  z
    .object({
      storeRef: storeRefField(),
      credential: CredentialSource,
      target: LeaseTarget.default({ keys: DEFAULT_KEYS }),
      renewBefore: durationField({ allowZero: false, min: '1s' })
        .optional()
        .describe(
          'Re-lease this long before the credential expires (minus up to 10% as jitter). Use this ' +
            'or renewFraction. If it is more than 90% of the TTL, the default fraction applies. Example: 10m.',
        ),
      renewFraction: z
        .number()
        .min(0.1)
        .max(0.9)
        .optional()
        .describe(
          'Re-lease when this fraction of the TTL has elapsed (minus up to 10% as jitter, so ' +
            'renewals of many leases spread out). Use this or renewBefore. Default: 0.6667 (2/3). Example: 0.5.',
        ),
      gracePeriod: durationField({ allowZero: true })
        .default(DEFAULT_GRACE_PERIOD)
        .describe(
          'How long a replaced credential stays valid before it is revoked, so pods can pick up ' +
            'the new one; never beyond its own expiry. 0: revoke at once. Default: 5m.',
        ),
      revokeOnDelete: z
        .boolean()
        .default(true)
        .describe(
          'Revoke every credential this resource still holds when it is deleted (the finalizer ' +
            'waits, within a bound). false: leave them to expire at their TTL. Default: true.',
        ),
      rolloutRestartTargets: rolloutRestartTargetsField(),
    })
    .describe('Which iam_credentials secret to lease from, where to put it, and when to renew.'),
  [
    {
      cel: '!(has(self.renewBefore) && has(self.renewFraction))',
      message: 'set at most one of renewBefore or renewFraction',
      holds: (value) => value.renewBefore === undefined || value.renewFraction === undefined,
    },
  ],
);
export type IAMCredentialLeaseSpec = z.infer<typeof IAMCredentialLeaseSpec>;

const REVOCATION_ROUTES = REVOCATION_METHODS.filter((method) => method !== 'auto') as [
  'serviceId',
  'secretVersionData',
  'vaultLease',
  'none',
];
export const RevocationRouteSchema = z.enum(REVOCATION_ROUTES);

const credentialIdentity = {
  serviceId: z
    .string()
    .min(1)
    .max(128)
    .describe('The service ID that was generated for the credential. Example: ServiceId-43c7....'),
  apiKeyId: z.string().max(128).optional().describe('The ID of the API key, where known.'),
  leaseId: z
    .string()
    .max(512)
    .optional()
    .describe('The Vault lease ID, where the server gave one (Secrets Manager gives none).'),
  secretId: z.string().min(1).max(64).describe('The ID of the iam_credentials secret.'),
  secretVersionId: z
    .string()
    .max(64)
    .optional()
    .describe('The secret version the credential belongs to, where the server says.'),
  store: z
    .string()
    .max(300)
    .optional()
    .describe(
      'The store the credential was leased through, as Kind/name; it is revoked through the same ' +
        'store. Example: SecretStore/team-secrets.',
    ),
  serviceIdShared: z
    .boolean()
    .optional()
    .describe(
      'The service ID was seen behind more than one API key (the secret uses an existing ' +
        'service ID rather than access groups), so it is never deleted to revoke a key.',
    ),
};

export const CurrentLease = z
  .object({
    ...credentialIdentity,
    issuedAt: timestamp().describe('When the credential was obtained.'),
    expiresAt: timestamp().describe('When its TTL ends.'),
    renewAt: timestamp().describe('When it will be replaced (jitter included).'),
    reused: z
      .boolean()
      .describe(
        'Whether Secrets Manager returned an existing credential (reuse_api_key); it is never revoked while current.',
      ),
    apiKeyHash: z
      .string()
      .max(128)
      .optional()
      .describe(
        'A keyed digest of the API key (never the key), to recognise the same key coming back.',
      ),
    restartPending: z
      .boolean()
      .optional()
      .describe('The rollout restart of the targets for this credential has not run yet.'),
    sourceHash: z
      .string()
      .max(128)
      .describe(
        'A digest of the store and credential fields the credential came from; a spec change ' +
          'that alters it leases a new credential, any other change only rewrites the Secret.',
      ),
  })
  .describe('The credential in the target Secret now.');
export type CurrentLease = z.infer<typeof CurrentLease>;

export const PendingRevocation = z
  .object({
    ...credentialIdentity,
    issuedAt: timestamp().optional().describe('When the credential was obtained.'),
    expiresAt: timestamp().describe('When the credential expires anyway.'),
    revokeAfter: timestamp().describe('Not revoked before this time (end of the grace period).'),
    reason: z
      .enum(['Replaced', 'TargetSecretLost', 'SourceChanged', 'Deleting'])
      .optional()
      .describe(
        'Why it is revoked: Replaced by a renewal, TargetSecretLost (the Secret was deleted or no longer holds it), ' +
          'SourceChanged (spec points at another secret), Deleting (the resource is being deleted).',
      ),
    attempts: z.number().int().min(0).describe('Failed revocation attempts so far.'),
    lastAttemptTime: timestamp().optional().describe('When revocation was last tried.'),
    lastError: z
      .string()
      .max(1024)
      .optional()
      .describe('Why the last attempt failed (never contains the key).'),
    route: RevocationRouteSchema.optional().describe('The route being tried.'),
  })
  .describe('A credential that is no longer in use and waits to be revoked.');
export type PendingRevocation = z.infer<typeof PendingRevocation>;

export const RevokedCredential = z
  .object({
    ...credentialIdentity,
    route: RevocationRouteSchema.describe(
      'How it was revoked: serviceId, secretVersionData, vaultLease, or none (left to expire).',
    ),
    result: z
      .enum(['Revoked', 'AlreadyGone', 'Expired', 'Abandoned', 'Skipped'])
      .describe(
        'Revoked; AlreadyGone (the server no longer had it); Expired (its TTL ended first); ' +
          'Abandoned (revocation kept failing past the bound; it expires at its TTL); Skipped ' +
          '(no safe route: a reused or shared key, a store with revocation none; it expires at its TTL).',
      ),
    time: timestamp().describe('When the result was recorded.'),
    message: z
      .string()
      .max(1024)
      .optional()
      .describe('Details, e.g. the last error for Abandoned.'),
  })
  .describe('A credential this resource has finished with.');
export type RevokedCredential = z.infer<typeof RevokedCredential>;

export const IAMCredentialLeaseStatus = z
  .object({
    conditions: conditionList().optional(),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the status was computed from.'),
    secretName: z.string().max(253).optional().describe('The name of the Secret being written.'),
    secretKeys: z
      .object({
        apiKey: z.string().max(253).describe('The key holding the API key.'),
        serviceId: z.string().max(253).describe('The key holding the service ID.'),
      })
      .optional()
      .describe('The keys the current credential was written under in the Secret.'),
    dataHash: z
      .string()
      .max(128)
      .optional()
      .describe(
        'A keyed digest of the data last written to the Secret; the Secret carries the same ' +
          'digest in an annotation, so a Secret that was deleted or overwritten is noticed.',
      ),
    current: CurrentLease.optional(),
    minting: z
      .object({
        startedAt: timestamp().describe('When the read of the credential started.'),
        store: z.string().max(300).describe('The store, as Kind/name.'),
        secretId: z
          .string()
          .max(300)
          .describe('The iam_credentials secret, as its ID or its name.'),
      })
      .optional()
      .describe(
        'Set just before a credential is read and cleared when it is recorded: if the operator ' +
          'stops in between, the credential Secrets Manager may have minted is unknown; it is ' +
          'reported (Event UnrecordedCredential) and expires at its TTL.',
      ),
    pendingRevocations: z
      .array(PendingRevocation)
      .max(100)
      .optional()
      .describe(
        'Credentials replaced or lost and not yet revoked; kept here so a restart resumes them.',
      ),
    revoked: z
      .array(RevokedCredential)
      .max(10)
      .optional()
      .describe('The last few credentials finished with, newest first.'),
  })
  .describe(
    'The lease as the operator last saw it. The operator resumes from this after a restart ' +
      'instead of minting a new credential.',
  );
export type IAMCredentialLeaseStatus = z.infer<typeof IAMCredentialLeaseStatus>;

export const IAMCredentialLease = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('IAMCredentialLease'),
  metadata: ObjectMeta,
  spec: IAMCredentialLeaseSpec,
  status: IAMCredentialLeaseStatus.optional(),
});
export type IAMCredentialLease = z.infer<typeof IAMCredentialLease>;

/** The name of the Secret a lease writes. */
export function leaseTargetName(resource: Pick<IAMCredentialLease, 'metadata' | 'spec'>): string {
  return resource.spec.target.name ?? resource.metadata.name;
}

/**
 * When to replace a credential, in epoch ms, per `renewBefore`/`renewFraction` (as documented on
 * those fields): jitter only ever moves the renewal earlier, and a `renewBefore` longer than
 * 90% of the TTL falls back to the default fraction instead of renewing in a loop.
 */
export function computeRenewAt(
  issuedAtMs: number,
  expiresAtMs: number,
  spec: Pick<IAMCredentialLeaseSpec, 'renewBefore' | 'renewFraction'>,
  random: () => number,
): number {
  const ttl = Math.max(0, expiresAtMs - issuedAtMs);
  const jitter = RENEW_JITTER * random();
  if (spec.renewBefore !== undefined) {
    const before = parseDuration(spec.renewBefore);
    if (before <= ttl * 0.9) {
      return Math.max(issuedAtMs, Math.round(expiresAtMs - before * (1 + jitter)));
    }
  }
  const fraction = spec.renewFraction ?? DEFAULT_RENEW_FRACTION;
  return Math.round(issuedAtMs + ttl * fraction * (1 - jitter));
}
