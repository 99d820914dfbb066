/**
 * The Secrets Manager client: what controllers and the runtime import. Everything here is safe
 * to log as far as errors go; values only ever live in RemoteSecret and IamCredentials.
 */

export type {
  IamCredentialsRef,
  ListFilter,
  RequestOptions,
  SecretsManagerClient,
  SecretsManagerClientOptions,
} from './client.ts';
export {
  createSecretsManagerClient,
  DEFAULT_CONCURRENCY,
  DEFAULT_RATE_LIMIT,
  DEFAULT_REQUEST_TIMEOUT_MS,
  HttpSecretsManagerClient,
} from './client.ts';
export type { Clock } from './clock.ts';
export { systemClock } from './clock.ts';
export type { ErrorCode, SafeCause } from './errors.ts';
export {
  ERROR_CODES,
  isForbidden,
  isInvalidRequest,
  isInvalidResponse,
  isNotFound,
  isRateLimited,
  isRetryable,
  isSecretsManagerError,
  isTimeout,
  isUnauthenticated,
  isUnavailable,
  SecretsManagerError,
} from './errors.ts';
export type { TrustedProfileCredential, TrustedProfileRef } from './iam.ts';
export { CR_TOKEN_GRANT_TYPE, CR_TOKEN_OPERATION, describeProfile } from './iam.ts';
export type { RateLimit } from './limiter.ts';
export type { SecretsManagerMetrics } from './metrics.ts';
export { createSecretsManagerMetrics } from './metrics.ts';
export type { ClientPoolOptions, StoreConnection } from './pool.ts';
export { connectionFingerprint, SecretsManagerClientPool } from './pool.ts';
export type { RetryPolicy } from './retry.ts';
export { DEFAULT_RETRY_POLICY, parseRetryAfter } from './retry.ts';
export type {
  CertificateFields,
  IamCredentials,
  RemoteSecret,
  SecretMetadata,
  SecretRef,
  SecretType,
} from './types.ts';
export { SECRET_TYPES, SecretTypeSchema, secretFields, ttlToSeconds } from './types.ts';
export type { Region } from './urls.ts';
export { DEFAULT_IAM_URL, isRegion, REGIONS, secretsManagerUrl } from './urls.ts';
