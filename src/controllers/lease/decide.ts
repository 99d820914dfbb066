/**
 * The pure decisions of the lease controller: whether a new credential is needed and why, and
 * how the status changes when one arrives. No I/O and no clock of its own: the reconciler hands
 * in `now`, what Secrets Manager returned and what it found in the cluster.
 */
import {
  type CurrentLease,
  computeRenewAt,
  type IAMCredentialLeaseSpec,
  type IAMCredentialLeaseStatus,
  type PendingRevocation,
  parseDuration,
  type RevokedCredential,
  toRfc3339,
} from '../../api/index.ts';
import type { IamCredentials } from '../../secretsmanager/index.ts';

/** Why a credential is read from Secrets Manager. */
export type LeaseTrigger =
  /** The resource has no credential yet. */
  | 'Initial'
  /** The renewal time has come. */
  | 'RenewDue'
  /** The credential expired before it could be replaced. */
  | 'Expired'
  /** The spec now points at another secret or store. */
  | 'SourceChanged'
  /** The target Secret was deleted, or no longer holds the recorded credential. */
  | 'TargetSecretLost';

/** How many replaced or finished credentials status keeps (the schema's limits). */
export const MAX_PENDING = 100;
export const MAX_REVOKED = 10;

export const ms = (time: string): number => Date.parse(time);
export const rfc3339 = (epochMs: number): string => toRfc3339(new Date(epochMs));

export interface TriggerInput {
  now: number;
  status: IAMCredentialLeaseStatus;
  /** `sourceHash` of the spec as it is now. */
  sourceHash: string;
  /** The Secret recorded in status exists and carries the data digest recorded in status. */
  secretHoldsCurrent: boolean;
}

/** Whether a credential must be read now, and why; `undefined` when the current one stays. */
export function leaseTrigger(input: TriggerInput): LeaseTrigger | undefined {
  const current = input.status.current;
  if (!current) return 'Initial';
  if (current.sourceHash !== input.sourceHash) return 'SourceChanged';
  // The API key exists only in the Secret: once the Secret is gone, so is the credential.
  if (!input.secretHoldsCurrent) return 'TargetSecretLost';
  if (input.now >= ms(current.expiresAt)) return 'Expired';
  if (input.now >= ms(current.renewAt)) return 'RenewDue';
  return undefined;
}

export interface RecordInput {
  /** Client time just before the read: the credential cannot have been minted earlier. */
  requestedAt: number;
  now: number;
  spec: Pick<IAMCredentialLeaseSpec, 'renewBefore' | 'renewFraction' | 'gracePeriod'>;
  trigger: LeaseTrigger;
  sourceHash: string;
  /** The store it was read through, as Kind/name. */
  store: string;
  /** Keyed digest of the API key just read. */
  apiKeyHash: string;
  /** Whether the resource has rollout restart targets. */
  hasRestartTargets: boolean;
  random: () => number;
}

export interface Recorded {
  status: IAMCredentialLeaseStatus;
  /** Secrets Manager returned the credential already recorded (reuse_api_key). */
  sameKey: boolean;
  /** The credential that was current before, now pending revocation or finished with. */
  replaced?: CurrentLease;
}

const PENDING_REASON: Record<LeaseTrigger, NonNullable<PendingRevocation['reason']>> = {
  Initial: 'Replaced',
  RenewDue: 'Replaced',
  Expired: 'Replaced',
  SourceChanged: 'SourceChanged',
  TargetSecretLost: 'TargetSecretLost',
};

/**
 * Whether `creds` is the credential already recorded as current: the same API key (by keyed
 * digest), or, for a secret that reuses keys, the same service ID. The second test keeps a
 * reused key from being mistaken for a new one if the digest key ever changed.
 */
export function isSameCredential(
  current: CurrentLease | undefined,
  creds: Pick<IamCredentials, 'secretId' | 'serviceId' | 'reuseApiKey'>,
  apiKeyHash: string,
): boolean {
  if (!current || current.secretId !== creds.secretId) return false;
  if (current.apiKeyHash !== undefined && current.apiKeyHash === apiKeyHash) return true;
  return creds.reuseApiKey === true && current.serviceId === creds.serviceId;
}

/**
 * The status after a credential was read: it becomes current, and the one it replaces waits
 * for revocation after the grace period (never past its own expiry). A reused key (the same one
 * came back) stays the same lease and is never scheduled for revocation.
 */
export function recordCredential(
  status: IAMCredentialLeaseStatus,
  creds: IamCredentials,
  input: RecordInput,
): Recorded {
  const previous = status.current;
  const sameKey = isSameCredential(previous, creds, input.apiKeyHash);
  const issuedAt = input.requestedAt;
  const reused = sameKey || creds.reuseApiKey === true;
  const expiresAt = expiryOf(creds, input.requestedAt, reused);
  // Secrets Manager hands out a reused key until it expires: a new one exists only after that.
  const renewAt = reused
    ? expiresAt
    : computeRenewAt(issuedAt, expiresAt, input.spec, input.random);
  const { minting: _minting, ...rest } = status;

  if (sameKey && previous) {
    const current: CurrentLease = {
      ...previous,
      expiresAt: rfc3339(expiresAt),
      renewAt: rfc3339(renewAt),
      reused: true,
      apiKeyHash: input.apiKeyHash,
      sourceHash: input.sourceHash,
      store: input.store,
      ...(creds.apiKeyId ? { apiKeyId: creds.apiKeyId } : {}),
    };
    return { status: { ...rest, current }, sameKey: true };
  }

  const serviceIdShared = previous !== undefined && previous.serviceId === creds.serviceId;
  const current: CurrentLease = {
    serviceId: creds.serviceId,
    ...(creds.apiKeyId ? { apiKeyId: creds.apiKeyId } : {}),
    ...(creds.leaseId ? { leaseId: creds.leaseId } : {}),
    secretId: creds.secretId,
    ...(creds.secretVersionId ? { secretVersionId: creds.secretVersionId } : {}),
    store: input.store,
    ...(serviceIdShared || previous?.serviceIdShared ? { serviceIdShared: true } : {}),
    // Milliseconds: the order of credentials of one secret decides which one is `current`.
    issuedAt: new Date(issuedAt).toISOString(),
    expiresAt: rfc3339(expiresAt),
    renewAt: rfc3339(renewAt),
    reused,
    sourceHash: input.sourceHash,
    apiKeyHash: input.apiKeyHash,
    // The first credential is no change for running pods; any later one is.
    ...(previous && input.hasRestartTargets ? { restartPending: true } : {}),
  };
  let next: IAMCredentialLeaseStatus = { ...rest, current };
  if (previous) {
    next = retire(
      next,
      { ...previous, ...(serviceIdShared ? { serviceIdShared: true } : {}) },
      {
        now: input.now,
        graceMs: parseDuration(input.spec.gracePeriod),
        reason: PENDING_REASON[input.trigger],
      },
    );
  }
  return { status: next, sameKey: false, ...(previous ? { replaced: previous } : {}) };
}

/**
 * When a credential just read expires. A new key cannot have been minted before the request
 * was sent, so `requestedAt + ttl` is never late for it. A reused key may have been minted long
 * before, by another reader: it expires `ttl` after it was generated (`createdAt`, the server's
 * last_update_date), never later than a new key would. An older generation time can only bring
 * the expiry forward, so a key is not taken for valid past its real expiry (beyond the second of
 * rounding of last_update_date).
 */
export function expiryOf(
  creds: Pick<IamCredentials, 'ttlSeconds' | 'createdAt'>,
  requestedAt: number,
  reused: boolean,
): number {
  const ttl = creds.ttlSeconds * 1000;
  if (!reused || creds.createdAt === undefined) return requestedAt + ttl;
  // The server just handed it out, so it was valid a moment ago; last_update_date has whole
  // seconds, so a key at the end of its life may compute as just expired: it is given that
  // second, and read again then.
  return Math.max(Math.min(creds.createdAt, requestedAt) + ttl, requestedAt + Math.min(ttl, 1_000));
}

/** The identity fields shared by current, pending and revoked entries. */
export function identityOf(
  c: CurrentLease | PendingRevocation,
): Pick<
  PendingRevocation,
  | 'serviceId'
  | 'apiKeyId'
  | 'leaseId'
  | 'secretId'
  | 'secretVersionId'
  | 'store'
  | 'serviceIdShared'
> {
  return {
    serviceId: c.serviceId,
    ...(c.apiKeyId !== undefined ? { apiKeyId: c.apiKeyId } : {}),
    ...(c.leaseId !== undefined ? { leaseId: c.leaseId } : {}),
    secretId: c.secretId,
    ...(c.secretVersionId !== undefined ? { secretVersionId: c.secretVersionId } : {}),
    ...(c.store !== undefined ? { store: c.store } : {}),
    ...(c.serviceIdShared ? { serviceIdShared: true } : {}),
  };
}

export interface RetireOptions {
  now: number;
  /** 0 for "revoke at once". */
  graceMs: number;
  reason: NonNullable<PendingRevocation['reason']>;
}

/**
 * Moves a credential that is no longer in the Secret to the revocation queue: revoked after the
 * grace period, capped at its expiry. One that already expired, or a reused key (shared with
 * every reader of the secret), goes straight to the finished list.
 */
export function retire(
  status: IAMCredentialLeaseStatus,
  credential: CurrentLease,
  options: RetireOptions,
): IAMCredentialLeaseStatus {
  const expiresAt = ms(credential.expiresAt);
  if (options.now >= expiresAt) {
    return finish(status, {
      ...identityOf(credential),
      route: 'none',
      result: 'Expired',
      time: rfc3339(options.now),
    });
  }
  if (credential.reused) {
    return finish(status, {
      ...identityOf(credential),
      route: 'none',
      result: 'Skipped',
      time: rfc3339(options.now),
      message: `reuse_api_key: Secrets Manager hands this key to every reader of the secret until it expires at ${credential.expiresAt}; it is not revoked early`,
    });
  }
  const pending: PendingRevocation = {
    ...identityOf(credential),
    issuedAt: credential.issuedAt,
    expiresAt: credential.expiresAt,
    revokeAfter: rfc3339(Math.min(options.now + options.graceMs, expiresAt)),
    reason: options.reason,
    attempts: 0,
  };
  const list = [...(status.pendingRevocations ?? []), pending];
  // The schema bounds the list; past it the oldest entries expire first anyway.
  const kept = list.length > MAX_PENDING ? list.slice(list.length - MAX_PENDING) : list;
  return { ...status, pendingRevocations: kept };
}

/**
 * A pending key the Secret still holds (a renewal was recorded but never reached the Secret) is
 * in use until the Secret changes: its grace period starts again now, capped at its expiry.
 */
export function regraceHeld(
  status: IAMCredentialLeaseStatus,
  heldServiceId: string | undefined,
  now: number,
  graceMs: number,
): IAMCredentialLeaseStatus {
  const pending = status.pendingRevocations;
  if (!heldServiceId || !pending?.some((p) => p.serviceId === heldServiceId)) return status;
  return {
    ...status,
    pendingRevocations: pending.map((p) => {
      if (p.serviceId !== heldServiceId) return p;
      const after = Math.min(now + graceMs, ms(p.expiresAt));
      return after > ms(p.revokeAfter) ? { ...p, revokeAfter: rfc3339(after) } : p;
    }),
  };
}

/** Adds a finished credential to the front of `revoked`, keeping the last few. */
export function finish(
  status: IAMCredentialLeaseStatus,
  entry: RevokedCredential,
): IAMCredentialLeaseStatus {
  return { ...status, revoked: [entry, ...(status.revoked ?? [])].slice(0, MAX_REVOKED) };
}

/**
 * Failed reads retry with backoff, never later than half the time the credential has left; with
 * no valid credential (none yet, or expired) at most 5 s apart, so it is back as soon as possible.
 */
export function renewalRetryMs(
  attempt: number,
  now: number,
  expiresAt: number | undefined,
): number {
  const backoff = Math.min(1_000 * 2 ** Math.max(0, attempt - 1), 60_000);
  if (expiresAt === undefined || now >= expiresAt) return Math.min(backoff, 5_000);
  return Math.max(1_000, Math.min(backoff, (expiresAt - now) / 2));
}
