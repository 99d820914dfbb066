/**
 * Revoking credentials a lease no longer uses: which route fits each credential, running it,
 * and recording the result. Secrets Manager's Vault API hands out no lease IDs, so the route
 * is chosen per credential (see `chooseRoute`), and each result names the route it took.
 */
import type {
  IAMCredentialLeaseStatus,
  PendingRevocation,
  RevocationMethod,
  RevocationRoute,
  RevokedCredential,
} from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import {
  isInvalidRequest,
  isNotFound,
  isSecretsManagerError,
  type RequestOptions,
  type SecretsManagerClient,
} from '../../secretsmanager/index.ts';
import { finish, identityOf, ms, rfc3339 } from './decide.ts';

export type RevocationCall =
  | { route: 'vaultLease'; leaseId: string }
  | { route: 'serviceId'; serviceId: string }
  | { route: 'secretVersionData'; secretId: string; versionId: string };

export type RouteDecision =
  | ({ kind: 'call' } & RevocationCall)
  | { kind: 'skip'; route: RevocationRoute; message: string };

export interface RouteContext {
  /** The store's `revocation` setting. */
  method: RevocationMethod;
  /**
   * A credential still in use (current in this or any other lease) has the same service ID:
   * deleting it would revoke that one too.
   */
  serviceIdInUse: boolean;
  /**
   * No newer credential of the same secret is known, so the secret's `current` version is
   * this one (the version-data route can only delete the current version).
   */
  newestOfSecret: boolean;
}

/**
 * The route for one credential:
 * - `vaultLease` when the server gave a lease ID (generic Vault, OpenBao);
 * - `serviceId` when Secrets Manager generated the service ID for this credential alone: never
 *   for a service ID seen behind several keys (a secret defined with an existing service ID) or
 *   one a credential in use still has;
 * - `secretVersionData` for the credential's own version, or for `current` while it is the
 *   newest credential of its secret;
 * - `auto` takes the first that applies, in that order.
 * When none is safe the credential is skipped and left to expire at its TTL.
 */
export function chooseRoute(cred: PendingRevocation, ctx: RouteContext): RouteDecision {
  const byLease: RouteDecision | undefined = cred.leaseId
    ? { kind: 'call', route: 'vaultLease', leaseId: cred.leaseId }
    : undefined;
  const byServiceId: RouteDecision | undefined =
    !cred.serviceIdShared && !ctx.serviceIdInUse
      ? { kind: 'call', route: 'serviceId', serviceId: cred.serviceId }
      : undefined;
  const versionId = cred.secretVersionId ?? (ctx.newestOfSecret ? 'current' : undefined);
  const byVersion: RouteDecision | undefined = versionId
    ? { kind: 'call', route: 'secretVersionData', secretId: cred.secretId, versionId }
    : undefined;
  const sharedServiceId = `service ID ${cred.serviceId} is shared with ${
    cred.serviceIdShared ? 'other API keys of the secret' : 'a credential still in use'
  }, so it is not deleted`;
  const skip = (route: RevocationRoute, message: string): RouteDecision => ({
    kind: 'skip',
    route,
    message: `${message}; the credential expires at ${cred.expiresAt}`,
  });
  switch (ctx.method) {
    case 'none':
      return skip('none', 'the store sets revocation: none');
    case 'vaultLease':
      return byLease ?? skip('vaultLease', 'the server gave no lease ID for this credential');
    case 'serviceId':
      return byServiceId ?? skip('serviceId', sharedServiceId);
    case 'secretVersionData':
      return (
        byVersion ??
        skip(
          'secretVersionData',
          'a newer credential of the secret exists and only the current version can be deleted',
        )
      );
    case 'auto':
      return byLease ?? byServiceId ?? byVersion ?? skip('serviceId', sharedServiceId);
  }
}

export type RevocationOutcome =
  | { ok: true; result: 'Revoked' | 'AlreadyGone' | 'Skipped'; message?: string }
  | { ok: false; code: string; message: string };

/** The client calls revocation needs (a subset of `SecretsManagerClient`). */
export type RevocationClient = Pick<
  SecretsManagerClient,
  'revokeLease' | 'deleteServiceId' | 'deleteSecretVersionData'
>;

const PERMISSION_HINT: Record<RevocationCall['route'], string> = {
  vaultLease: 'the Vault token needs update on sys/leases/revoke',
  serviceId: "the store's API key needs the Operator role on the IAM Identity Service",
  secretVersionData: "the store's API key needs the Manager role on the Secrets Manager instance",
};

/** Runs one revocation; a credential the server no longer has counts as done. */
export async function executeRevocation(
  client: RevocationClient,
  call: RevocationCall,
  opts: RequestOptions = {},
): Promise<RevocationOutcome> {
  try {
    switch (call.route) {
      case 'vaultLease':
        await client.revokeLease(call.leaseId, opts);
        break;
      case 'serviceId':
        await client.deleteServiceId(call.serviceId, opts);
        break;
      case 'secretVersionData':
        await client.deleteSecretVersionData(call.secretId, call.versionId, opts);
        break;
    }
    return { ok: true, result: 'Revoked' };
  } catch (err) {
    if (isNotFound(err)) return { ok: true, result: 'AlreadyGone' };
    if (call.route === 'secretVersionData' && isInvalidRequest(err)) {
      // Secrets Manager refuses any version but the current one: a newer key was read since.
      return {
        ok: true,
        result: 'Skipped',
        message: 'no longer the current version of its secret, which is the only one deletable',
      };
    }
    if (isSecretsManagerError(err)) {
      const hint = err.code === 'Forbidden' ? `; ${PERMISSION_HINT[call.route]}` : '';
      return { ok: false, code: err.code, message: `${err.message}${hint}` };
    }
    const safe = describeError(err);
    return { ok: false, code: String(safe.code ?? safe.name), message: safe.message };
  }
}

/** Waits between failed attempts: 2 s doubling, at most 5 minutes. */
export function revocationBackoffMs(attempts: number): number {
  return Math.min(2_000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

/** When the credential may next be tried (its grace period, then the backoff after failures). */
export function nextAttemptAt(cred: PendingRevocation, deleting: boolean): number {
  const graceEnd = deleting ? 0 : ms(cred.revokeAfter);
  if (cred.attempts === 0 || cred.lastAttemptTime === undefined) return graceEnd;
  return Math.max(graceEnd, ms(cred.lastAttemptTime) + revocationBackoffMs(cred.attempts));
}

/** What happened to one pending credential in one pass. */
export type PassResult =
  | { kind: 'waiting' }
  | { kind: 'finished'; entry: RevokedCredential }
  | { kind: 'failed'; route: RevocationRoute; code: string; message: string };

/** Replaces the pending entry for `cred` with its updated form, or drops it when finished. */
export function applyPassResult(
  status: IAMCredentialLeaseStatus,
  cred: PendingRevocation,
  result: PassResult,
  now: number,
): IAMCredentialLeaseStatus {
  if (result.kind === 'waiting') return status;
  const others = (status.pendingRevocations ?? []).filter((p) => p !== cred);
  if (result.kind === 'finished') {
    return finish({ ...status, pendingRevocations: others }, result.entry);
  }
  const updated: PendingRevocation = {
    ...cred,
    attempts: cred.attempts + 1,
    lastAttemptTime: rfc3339(now),
    lastError: result.message.slice(0, 1024),
    route: result.route,
  };
  const list = status.pendingRevocations ?? [];
  return { ...status, pendingRevocations: list.map((p) => (p === cred ? updated : p)) };
}

export function finishedEntry(
  cred: PendingRevocation,
  route: RevocationRoute,
  result: RevokedCredential['result'],
  now: number,
  message?: string,
): RevokedCredential {
  return {
    ...identityOf(cred),
    route,
    result,
    time: rfc3339(now),
    ...(message ? { message: message.slice(0, 1024) } : {}),
  };
}

/** A store's client and revocation setting, or why it cannot be used now. */
export type StoreAccess =
  | { ok: true; client: RevocationClient; method: RevocationMethod }
  | { ok: false; code: string; message: string };

export interface RevokePendingOptions {
  now: () => number;
  /** The resource is being deleted: grace periods no longer apply. */
  deleting: boolean;
  /** While deleting: past this time, what is left is given up (Abandoned). */
  deadline?: number;
  /** The client of the store a credential came through (`Kind/name`; undefined: the spec's). */
  storeFor(store: string | undefined): StoreAccess;
  /** What is known about the credential beyond this resource (see RouteContext). */
  contextFor(cred: PendingRevocation): Omit<RouteContext, 'method'>;
  /** The reconcile's cancellation: stops revoking (what is left stays pending). */
  signal?: AbortSignal;
}

export interface RevokePendingResult {
  status: IAMCredentialLeaseStatus;
  /** Every credential touched in this pass, with what happened. */
  results: Array<{ cred: PendingRevocation; result: Exclude<PassResult, { kind: 'waiting' }> }>;
  /** When the next pass has work (a grace period ends, a backoff ends, a credential expires). */
  nextAt: number | undefined;
}

/**
 * One pass over the pending revocations: each one that is due is revoked by its route; one that
 * expired first, or (while deleting) is still failing at the deadline, is finished without it.
 */
export async function revokePending(
  status: IAMCredentialLeaseStatus,
  options: RevokePendingOptions,
): Promise<RevokePendingResult> {
  let next = status;
  let nextAt: number | undefined;
  const wake = (at: number) => {
    nextAt = nextAt === undefined ? at : Math.min(nextAt, at);
  };
  const results: RevokePendingResult['results'] = [];
  for (const cred of status.pendingRevocations ?? []) {
    const now = options.now();
    const result = await passOne(cred, now, options);
    if (result.kind === 'waiting') {
      wake(Math.min(nextAttemptAt(cred, options.deleting), ms(cred.expiresAt)));
      continue;
    }
    results.push({ cred, result });
    next = applyPassResult(next, cred, result, now);
    if (result.kind === 'failed') {
      const retryAt = now + revocationBackoffMs(cred.attempts + 1);
      wake(Math.min(retryAt, ms(cred.expiresAt), options.deadline ?? Number.POSITIVE_INFINITY));
    }
  }
  return { status: next, results, nextAt };
}

async function passOne(
  cred: PendingRevocation,
  now: number,
  options: RevokePendingOptions,
): Promise<PassResult> {
  const lastRoute = cred.route ?? 'none';
  if (now >= ms(cred.expiresAt)) {
    return {
      kind: 'finished',
      entry: finishedEntry(cred, lastRoute, 'Expired', now, cred.lastError),
    };
  }
  if (options.deleting && options.deadline !== undefined && now >= options.deadline) {
    return {
      kind: 'finished',
      entry: finishedEntry(
        cred,
        lastRoute,
        'Abandoned',
        now,
        `revocation kept failing (${cred.lastError ?? 'not attempted'}); it expires at ${cred.expiresAt}`,
      ),
    };
  }
  if (now < nextAttemptAt(cred, options.deleting)) return { kind: 'waiting' };
  const store = options.storeFor(cred.store);
  if (!store.ok) {
    return { kind: 'failed', route: lastRoute, code: store.code, message: store.message };
  }
  const decision = chooseRoute(cred, { method: store.method, ...options.contextFor(cred) });
  if (decision.kind === 'skip') {
    return {
      kind: 'finished',
      entry: finishedEntry(cred, decision.route, 'Skipped', now, decision.message),
    };
  }
  options.signal?.throwIfAborted();
  const outcome = await executeRevocation(
    store.client,
    decision,
    options.signal ? { signal: options.signal } : {},
  );
  options.signal?.throwIfAborted();
  if (!outcome.ok) {
    return { kind: 'failed', route: decision.route, code: outcome.code, message: outcome.message };
  }
  return {
    kind: 'finished',
    entry: finishedEntry(cred, decision.route, outcome.result, now, outcome.message),
  };
}

type Identity = Pick<PendingRevocation, 'serviceId' | 'secretId' | 'issuedAt'>;

/**
 * What this lease's and every other lease's credentials say about one credential: whether its
 * service ID is still in use, and whether it is the newest of its secret.
 */
export function routeContextFor(
  status: IAMCredentialLeaseStatus,
  cred: PendingRevocation,
  leases: readonly unknown[],
  ownUid: string,
): Omit<RouteContext, 'method'> {
  const mine = [
    ...(status.current ? [status.current] : []),
    ...(status.pendingRevocations ?? []).filter((p) => p !== cred),
  ];
  const others = otherCredentials(leases, ownUid);
  const inUse = [status.current, ...others.current].filter((c) => c !== undefined);
  const issued = cred.issuedAt ? ms(cred.issuedAt) : 0;
  // A tie counts as newer: `current` must never be able to name somebody else's key.
  const newer = [...mine, ...others.current, ...others.pending].some(
    (c) => c.secretId === cred.secretId && (c.issuedAt === undefined || ms(c.issuedAt) >= issued),
  );
  return {
    serviceIdInUse: inUse.some((c) => c.serviceId === cred.serviceId),
    newestOfSecret: !newer,
  };
}

/** The current and pending credentials of every other lease, read defensively from the cache. */
function otherCredentials(
  leases: readonly unknown[],
  ownUid: string,
): { current: Identity[]; pending: Identity[] } {
  const current: Identity[] = [];
  const pending: Identity[] = [];
  for (const obj of leases) {
    const lease = obj as {
      metadata?: { uid?: string };
      status?: { current?: unknown; pendingRevocations?: unknown };
    };
    if (lease.metadata?.uid === ownUid) continue;
    const c = asIdentity(lease.status?.current);
    if (c) current.push(c);
    if (Array.isArray(lease.status?.pendingRevocations)) {
      for (const p of lease.status.pendingRevocations) {
        const id = asIdentity(p);
        if (id) pending.push(id);
      }
    }
  }
  return { current, pending };
}

function asIdentity(value: unknown): Identity | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.serviceId !== 'string' || typeof v.secretId !== 'string') return undefined;
  return {
    serviceId: v.serviceId,
    secretId: v.secretId,
    ...(typeof v.issuedAt === 'string' ? { issuedAt: v.issuedAt } : {}),
  };
}
