// Every Event reason the operator records, in one place. Ready-change Events use the condition
// reasons of the API (api/externalsecret.ts, api/iamcredentiallease.ts, api/store.ts); these are
// the reasons of Events that report something that happened.
export const EVENT_REASONS = {
  /** ExternalSecret: the data in Secrets Manager changed and the Secret was updated. */
  Updated: 'Updated',
  /** Workloads in rolloutRestartTargets were restarted after their Secret changed. */
  RolloutRestarted: 'RolloutRestarted',
  RolloutRestartFailed: 'RolloutRestartFailed',
  /** ClusterExternalSecret: ExternalSecrets were created in newly selected namespaces. */
  ExternalSecretsCreated: 'ExternalSecretsCreated',
  /** ClusterExternalSecret: ExternalSecrets of namespaces no longer selected were deleted. */
  ExternalSecretsDeleted: 'ExternalSecretsDeleted',
  /** Deleted with a spec that does not parse: nothing could be cleaned up. */
  InvalidSpec: 'InvalidSpec',
  /** Lease: a first credential was leased into the Secret. */
  Leased: 'Leased',
  /** Lease: the credential was replaced before (or at) its expiry. */
  Renewed: 'Renewed',
  /** Lease: the store or the iam_credentials secret changed, so a new credential was leased. */
  SourceChanged: 'SourceChanged',
  /** Lease: the Secret was deleted or no longer held the credential. */
  TargetSecretLost: 'TargetSecretLost',
  /** Lease: the credential moved to a new Secret name or keys without a new lease. */
  SecretRewritten: 'SecretRewritten',
  /** Lease: reading a credential failed. */
  LeaseFailed: 'LeaseFailed',
  /** Lease: the current credential expired before it was replaced. */
  LeaseExpired: 'LeaseExpired',
  /** Lease: a credential may have been minted that nobody recorded (operator stopped). */
  UnrecordedCredential: 'UnrecordedCredential',
  Revoked: 'Revoked',
  RevocationFailed: 'RevocationFailed',
  RevocationSkipped: 'RevocationSkipped',
  RevocationAbandoned: 'RevocationAbandoned',
  /** Lease deleted with revokeOnDelete false: its keys are left to expire. */
  CredentialsLeftToExpire: 'CredentialsLeftToExpire',
} as const;

export type EventReason = (typeof EVENT_REASONS)[keyof typeof EVENT_REASONS];
