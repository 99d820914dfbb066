// The lease's conditions and when to look at it again, as pure functions of its status, the
// time and the last failure. Ready says whether the Secret holds a valid credential;
// CredentialsRevoked whether every replaced credential is revoked.
import {
  type Condition,
  type CurrentLease,
  type IAMCredentialLeaseStatus,
  LEASE_REASONS,
  READY,
  REVOCATION_REASONS,
  REVOKED_CONDITION,
  setCondition,
} from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import { isNotFound, isSecretsManagerError } from '../../secretsmanager/index.ts';
import { ms, rfc3339 } from './decide.ts';

type Status = IAMCredentialLeaseStatus;

export const MIN_REQUEUE_MS = 500;

/** `status` with Ready set. */
export function withReady(
  status: Status,
  generation: number | undefined,
  now: number,
  ready: { status: Condition['status']; reason: string; message: string },
): Status {
  return {
    ...status,
    conditions: setCondition(
      status.conditions,
      {
        type: READY,
        ...ready,
        ...(generation !== undefined ? { observedGeneration: generation } : {}),
      },
      new Date(now),
    ),
  };
}

/** `status` with CredentialsRevoked set from its pending revocations. */
export function withRevokedCondition(
  status: Status,
  generation: number | undefined,
  now: number,
  gracePeriod: string,
): Status {
  const pending = status.pendingRevocations ?? [];
  const failing = pending.filter((p) => p.attempts > 0);
  const base = {
    type: REVOKED_CONDITION,
    ...(generation !== undefined ? { observedGeneration: generation } : {}),
  };
  const update =
    pending.length === 0
      ? {
          ...base,
          status: 'True' as const,
          reason: REVOCATION_REASONS.AllRevoked,
          message: 'no replaced credential waits for revocation',
        }
      : failing.length > 0
        ? {
            ...base,
            status: 'False' as const,
            reason: REVOCATION_REASONS.RevocationFailed,
            message: failing
              .map(
                (p) =>
                  `${p.serviceId} (${p.attempts} attempts, expires ${p.expiresAt}): ${p.lastError ?? ''}`,
              )
              .join('; '),
          }
        : {
            ...base,
            status: 'False' as const,
            reason: REVOCATION_REASONS.GracePeriod,
            message: `${pending.length} replaced credential(s) wait for the end of their grace period (${gracePeriod}); next at ${pending.map((p) => p.revokeAfter).sort()[0]}`,
          };
  return { ...status, conditions: setCondition(status.conditions, update, new Date(now)) };
}

export interface ConditionsInput {
  now: number;
  generation: number | undefined;
  gracePeriod: string;
  /** The Secret named when status records none yet. */
  targetName: string;
  /** The failure of this reconcile's read, if it failed (or its backoff still holds). */
  failure?: unknown;
  /** When the failed read is tried again. */
  retryAt: number;
}

/**
 * Both conditions and observedGeneration after a normal reconcile. `expired` is the current
 * credential when it has expired (the caller reports it once).
 */
export function leaseConditions(
  status: Status,
  input: ConditionsInput,
): { status: Status; expired?: CurrentLease } {
  const { now, generation } = input;
  const current = status.current;
  const valid = current !== undefined && now < ms(current.expiresAt);
  const secret = status.secretName ?? input.targetName;
  const ready = (s: Condition['status'], reason: string, message: string) =>
    withReady(status, generation, now, { status: s, reason, message });
  let next = status;
  let expired: CurrentLease | undefined;
  if (input.failure !== undefined) {
    // An absolute time, so a reconcile woken during the backoff writes the same status.
    const what = `reading a credential failed: ${errorText(input.failure)}; next attempt at ${rfc3339(input.retryAt)}`;
    if (valid && current) {
      next = ready(
        'True',
        LEASE_REASONS.Renewing,
        `${what}; credential ${current.serviceId} in Secret ${secret} is valid until ${current.expiresAt}`,
      );
    } else if (current) {
      expired = current;
      next = ready(
        'False',
        LEASE_REASONS.LeaseExpired,
        `credential ${current.serviceId} expired at ${current.expiresAt}; ${what}`,
      );
    } else {
      next = ready('False', failureReason(input.failure), what);
    }
  } else if (current && valid) {
    const reuse = current.reused
      ? ' (reuse_api_key: Secrets Manager returns this key until it expires, so the next one is leased at expiry)'
      : '';
    next = ready(
      'True',
      LEASE_REASONS.Leased,
      `credential ${current.serviceId} in Secret ${secret} is valid until ${current.expiresAt} and renews at ${current.renewAt}${reuse}`,
    );
  } else if (current) {
    next = ready(
      'False',
      LEASE_REASONS.LeaseExpired,
      `credential ${current.serviceId} expired at ${current.expiresAt}`,
    );
  }
  next = withRevokedCondition(next, generation, now, input.gracePeriod);
  next = { ...next, observedGeneration: generation ?? 0 };
  return expired ? { status: next, expired } : { status: next };
}

/** The earliest of: the retry of a failed read, renewal, expiry, the next revocation. */
export function requeueAfterMs(
  status: Status,
  now: number,
  retryAt: number | undefined,
  revokeAt: number | undefined,
): number {
  const times: number[] = [];
  const current = status.current;
  if (retryAt !== undefined) times.push(retryAt);
  else if (current) times.push(ms(current.renewAt), ms(current.expiresAt));
  if (revokeAt !== undefined) times.push(revokeAt);
  if (times.length === 0) return 60 * 60_000;
  return Math.max(MIN_REQUEUE_MS, Math.min(...times) - now);
}

/** A failure as `code: message`, built from codes and scrubbed messages only. */
export function errorText(err: unknown): string {
  if (isSecretsManagerError(err)) return `${err.code}: ${err.message}`;
  const safe = describeError(err);
  return `${safe.code ?? safe.name}: ${safe.message}`;
}

function failureReason(err: unknown): string {
  return isNotFound(err) ? LEASE_REASONS.RemoteSecretNotFound : LEASE_REASONS.LeaseFailed;
}
