// The main path of one lease reconcile (converge), its deletion path (finalize), and the pass
// over pending revocations both share. The order of writes is the crash-safety argument; see
// reconciler.ts. Minting is in mint.ts, the Secret in secret.ts.
import { LEASE_REASONS, leaseTargetName, parseDuration } from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import type { Result } from '../../runtime/reconciler.ts';
import { FINALIZERS } from '../shared/constants.ts';
import { hasFinalizer, removeFinalizer } from '../shared/finalizers.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import { decodeData, secretDataHash } from '../shared/secrets.ts';
import { parseStoreRefLabel, storeId, storeKeyFor } from '../store/key.ts';
import type { ResolveResult } from '../store/registry.ts';
import {
  leaseConditions,
  MIN_REQUEUE_MS,
  requeueAfterMs,
  withRevokedCondition,
} from './conditions.ts';
import { leaseTrigger, ms, regraceHeld, retire } from './decide.ts';
import { leaseCredential } from './mint.ts';
import {
  type RevokePendingResult,
  revokePending,
  routeContextFor,
  type StoreAccess,
} from './revocation.ts';
import {
  applyRenewPolicy,
  heldSecret,
  renderedStale,
  rewriteSecret,
  rolloutIfPending,
  targetConflict,
} from './secret.ts';
import { sourceHash } from './source.ts';
import type { LeaseState, UsableStore } from './state.ts';
import { templateProblem } from './template.ts';

/** How long deletion keeps retrying failed revocations before it lets the resource go. */
export const DEFAULT_REVOCATION_TIMEOUT_MS = 5 * 60_000;
const STORE_PENDING_RETRY_MS = 5_000;
const CONFLICT_RETRY_MS = 30_000;
/** A broken template is also re-checked on every change of the lease or its ConfigMaps. */
const TEMPLATE_RETRY_MS = 60_000;

/**
 * Leases, renews or rewrites as the status and the Secret require, rolls workloads, revokes
 * what is due, and writes the conditions.
 */
export async function converge(st: LeaseState): Promise<Result | undefined> {
  const { spec } = st.lease;
  st.recoverMinting();
  const resolved = st.o.stores.resolve(st.ns, spec.storeRef);
  if (!resolved.ok) return storeUnusable(st, resolved);
  const store: UsableStore = {
    ok: true,
    client: resolved.client,
    method: resolved.store.revocation,
  };
  st.shared.lastStores.set(storeId(storeKeyFor(st.ns, spec.storeRef)), store);
  const hashKey = await st.o.hashKey.get();

  const held = await heldSecret(st);
  const holds = held !== undefined && secretDataHash(held) === st.status.dataHash;
  const trigger = leaseTrigger({
    now: st.now(),
    status: st.status,
    sourceHash: sourceHash(spec),
    secretHoldsCurrent: holds,
  });
  let failure: unknown;
  const backoff = st.shared.failures.get(st.id);
  const conflict = await targetConflict(st, trigger !== undefined, held);
  if (conflict) {
    st.setReady('False', LEASE_REASONS.TargetConflict, conflict);
    await revoke(st, false);
    st.status = withRevokedCondition(
      st.status,
      st.lease.metadata.generation,
      st.now(),
      spec.gracePeriod,
    );
    st.status.observedGeneration = st.lease.metadata.generation ?? 0;
    await st.write();
    return { requeueAfterMs: CONFLICT_RETRY_MS };
  }
  if (trigger === 'TargetSecretLost' && held) {
    // The Secret still holds an older key (a renewal recorded but never written): it is in use.
    const serviceIdKey = st.status.secretKeys?.serviceId ?? spec.target.keys.serviceId;
    st.status = regraceHeld(
      st.status,
      decodeData(held.data)[serviceIdKey],
      st.now(),
      parseDuration(spec.gracePeriod),
    );
  }
  if (trigger && !st.status.current) {
    // A first credential only with a template that renders: never a minted key without its Secret.
    const problem = await templateProblem(st);
    if (problem) {
      st.setReady('False', LEASE_REASONS.TemplateError, `${problem}; nothing was leased`);
      st.status.observedGeneration = st.lease.metadata.generation ?? 0;
      await st.write();
      return { requeueAfterMs: TEMPLATE_RETRY_MS };
    }
  }
  if (trigger && backoff && st.now() < backoff.retryAt) {
    // Woken early (our own status write, a Secret event): the backoff still holds.
    failure = backoff.error;
  } else if (trigger) {
    failure = await leaseCredential(st, trigger, resolved.client, store, hashKey);
  } else if (st.status.observedGeneration !== st.lease.metadata.generation && held) {
    applyRenewPolicy(st);
    await rewriteSecret(st, held, hashKey);
  } else if (holds && held && (await renderedStale(st, held, hashKey))) {
    await rewriteSecret(st, held, hashKey);
  }
  await rolloutIfPending(st);
  const revocations = await revoke(st, false);
  const now = st.now();
  const retryAt =
    failure === undefined
      ? undefined
      : Math.max(now, st.shared.failures.get(st.id)?.retryAt ?? now + 1_000);
  const next = leaseConditions(st.status, {
    now,
    generation: st.lease.metadata.generation,
    gracePeriod: spec.gracePeriod,
    targetName: leaseTargetName(st.lease),
    failure,
    retryAt: retryAt ?? now,
  });
  if (next.expired) st.report.expired(next.expired);
  st.status = next.status;
  await st.write();
  st.o.metrics.track(st.id, st.currentExpiry());
  return { requeueAfterMs: requeueAfterMs(st.status, now, retryAt, revocations.nextAt) };
}

export async function storeUnusable(
  st: LeaseState,
  resolved: Extract<ResolveResult, { ok: false }>,
): Promise<Result> {
  if (resolved.pending) {
    // Just started or the store changed: wait for its validation rather than flip to not Ready.
    await st.write();
    return { requeueAfterMs: STORE_PENDING_RETRY_MS };
  }
  const current = st.status.current;
  const keeps =
    current && st.now() < ms(current.expiresAt)
      ? `; the current credential stays in the Secret until it expires at ${current.expiresAt}`
      : '';
  st.setReady('False', resolved.reason, `${resolved.message}${keeps}`);
  st.status.observedGeneration = st.lease.metadata.generation ?? 0;
  await st.write();
  st.o.metrics.track(st.id, st.currentExpiry());
  // The store controller enqueues this lease when the store becomes usable; expiry is reported.
  const wake = current ? ms(current.expiresAt) - st.now() : 60_000;
  return { requeueAfterMs: Math.max(wake, STORE_PENDING_RETRY_MS) };
}

export async function revoke(st: LeaseState, deleting: boolean): Promise<RevokePendingResult> {
  const deadline = deleting
    ? ms(String(st.lease.metadata.deletionTimestamp)) +
      (st.o.revocationTimeoutMs ?? DEFAULT_REVOCATION_TIMEOUT_MS)
    : undefined;
  const result = await revokePending(st.status, {
    now: () => st.now(),
    deleting,
    ...(deadline !== undefined ? { deadline } : {}),
    storeFor: (label) => storeFor(st, label, deleting),
    contextFor: (cred) => routeContextFor(st.status, cred, st.o.leases(), st.uid),
    signal: st.signal,
  });
  st.status = result.status;
  for (const { cred, result: r } of result.results) st.report.revocation(cred, r);
  return result;
}

export function storeFor(
  st: LeaseState,
  label: string | undefined,
  deleting: boolean,
): StoreAccess {
  const ref = label ? parseStoreRefLabel(label) : st.lease.spec.storeRef;
  if (!ref) return { ok: false, code: 'StoreNotReady', message: `unknown store ${label}` };
  const resolved = st.o.stores.resolve(st.ns, ref);
  const id = storeId(storeKeyFor(st.ns, ref));
  if (resolved.ok) {
    const access = {
      ok: true as const,
      client: resolved.client,
      method: resolved.store.revocation,
    };
    st.shared.lastStores.set(id, access);
    return access;
  }
  // Deleting a namespace deletes its SecretStore at the same moment: use the client we had.
  const last = deleting ? st.shared.lastStores.get(id) : undefined;
  return last ?? { ok: false, code: resolved.reason, message: resolved.message };
}

/** Revokes everything the lease holds, then lets it go; `undefined` once the finalizer is off. */
export async function finalize(st: LeaseState): Promise<Result | undefined> {
  if (!hasFinalizer(st.lease, FINALIZERS.IAMCredentialLease)) return undefined;
  st.recoverMinting();
  const current = st.status.current;
  if (current) {
    const { current: _c, ...rest } = st.status;
    st.status = st.lease.spec.revokeOnDelete
      ? retire(rest, current, { now: st.now(), graceMs: 0, reason: 'Deleting' })
      : rest;
    st.report.retired(current, rest, st.status);
  }
  if (!st.lease.spec.revokeOnDelete) {
    const left = [current, ...(st.status.pendingRevocations ?? [])].filter((c) => c !== undefined);
    if (left.length > 0) {
      st.report.event(
        'Normal',
        EVENT_REASONS.CredentialsLeftToExpire,
        `revokeOnDelete is false: ${left.map((c) => `${c.serviceId} (expires ${c.expiresAt})`).join(', ')} left to expire`,
      );
    }
  } else {
    const result = await revoke(st, true);
    const left = result.status.pendingRevocations ?? [];
    if (left.length > 0) {
      st.setReady(
        'False',
        LEASE_REASONS.Deleting,
        `revoking ${left.length} credential(s) before the resource is released; retrying`,
      );
      await st.write();
      return {
        requeueAfterMs: Math.max(MIN_REQUEUE_MS, (result.nextAt ?? st.now() + 1_000) - st.now()),
      };
    }
  }
  await st.write().catch((err: unknown) => {
    st.log.debug({ err: describeError(err) }, 'final status write failed');
  });
  st.signal.throwIfAborted();
  await removeFinalizer(
    st.o.resources,
    { kind: 'IAMCredentialLease', namespace: st.ns, name: st.name },
    { metadata: { ...st.lease.metadata, resourceVersion: st.resourceVersion } },
    FINALIZERS.IAMCredentialLease,
  );
  return undefined;
}
