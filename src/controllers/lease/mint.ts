// Minting: the one step that cannot be undone. A credential is read only after the intent is
// recorded (status.minting), and recorded before it is exposed in the Secret.
import type { PendingRevocation } from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import {
  type IamCredentials,
  isSecretsManagerError,
  isTimeout,
  type SecretsManagerClient,
} from '../../secretsmanager/index.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import { deleteSecretIfOwned, hashData } from '../shared/secrets.ts';
import { storeRefLabel } from '../store/key.ts';
import { errorText } from './conditions.ts';
import {
  type LeaseTrigger,
  ms,
  type Recorded,
  recordCredential,
  renewalRetryMs,
  rfc3339,
} from './decide.ts';
import { chooseRoute, executeRevocation } from './revocation.ts';
import { applyLeaseSecret, secretFor } from './secret.ts';
import { credentialRef, describeCredentialSource, sourceHash } from './source.ts';
import type { LeaseState, UsableStore } from './state.ts';

/** Reads a credential and puts it in status and the Secret. Returns the failure, if any. */
export async function leaseCredential(
  st: LeaseState,
  trigger: LeaseTrigger,
  client: SecretsManagerClient,
  store: UsableStore,
  hashKey: Uint8Array,
): Promise<unknown> {
  const { spec } = st.lease;
  const previous = st.status.current;
  // A reused key is replaced at its expiry by design (no new key exists before): no incident.
  if (trigger === 'Expired' && previous && !previous.reused) st.report.expired(previous);

  st.status = {
    ...st.status,
    minting: {
      startedAt: rfc3339(st.now()),
      store: storeRefLabel(spec.storeRef),
      secretId: describeCredentialSource(spec),
    },
  };
  await st.write();
  const requestedAt = st.now();
  let creds: IamCredentials;
  try {
    creds = await client.getIamCredentials(credentialRef(spec), { signal: st.signal });
  } catch (err) {
    // Cancelled: write and report nothing more. The minting marker stays, so the next reconcile
    // (perhaps another replica's) reports the credential the server may have minted.
    if (st.signal.aborted) throw err;
    return readFailed(st, trigger, err);
  }
  await st.o.hooks?.afterRead?.({ namespace: st.ns, name: st.name });

  const recorded = recordCredential(st.status, creds, {
    requestedAt,
    now: st.now(),
    spec,
    trigger,
    sourceHash: sourceHash(spec),
    store: storeRefLabel(spec.storeRef),
    apiKeyHash: hashData({ apiKey: creds.apiKey }, hashKey),
    hasRestartTargets: (spec.rolloutRestartTargets ?? []).length > 0,
    random: st.o.random,
  });
  const beforeRecord = st.status;
  const {
    name: targetName,
    data,
    record,
  } = await secretFor(st, creds.apiKey, creds.serviceId, hashKey);
  const oldSecretName = st.status.secretName;
  st.status = { ...recorded.status, ...record };
  try {
    await st.write();
  } catch (err) {
    // Not recorded: it must not stay valid unseen. Try to revoke it right away.
    if (!recorded.sameKey) await revokeUnrecorded(st, recorded, store);
    throw err;
  }
  if (recorded.replaced && !recorded.sameKey) {
    st.report.retired(recorded.replaced, beforeRecord, st.status);
  }
  await applyLeaseSecret(st, targetName, data);
  if (oldSecretName && oldSecretName !== targetName) {
    await deleteSecretIfOwned(st.o.secrets, st.ns, oldSecretName, st.uid);
  }
  st.shared.failures.delete(st.id);
  st.o.metrics.leases.inc({ trigger, result: 'success' });
  if (recorded.replaced && !recorded.sameKey) {
    const left = Math.max(0, ms(recorded.replaced.expiresAt) - requestedAt);
    st.o.metrics.remainingAtReplacement.observe(left / 1000);
  }
  st.report.leased(trigger, recorded, targetName);
  return undefined;
}

export function readFailed(st: LeaseState, trigger: LeaseTrigger, err: unknown): unknown {
  const { minting: marker, ...rest } = st.status;
  st.status = rest;
  const failures = (st.shared.failures.get(st.id)?.count ?? 0) + 1;
  const current = st.status.current;
  const retry = renewalRetryMs(failures, st.now(), current ? ms(current.expiresAt) : undefined);
  const after = isSecretsManagerError(err) ? (err.retryAfterMs ?? 0) : 0;
  st.shared.failures.set(st.id, {
    count: failures,
    error: err,
    retryAt: st.now() + Math.max(retry, after),
  });
  st.o.metrics.leases.inc({ trigger, result: 'error' });
  st.log.warn({ err: describeError(err), trigger, failures }, 'reading the credential failed');
  st.report.event(
    'Warning',
    EVENT_REASONS.LeaseFailed,
    `reading a credential (${trigger}) failed: ${errorText(err)}`,
  );
  if (isTimeout(err) && marker) {
    // The server may have minted one before the answer was lost.
    st.report.unrecorded(
      `the read of a credential at ${marker.startedAt} timed out; Secrets Manager may have ` +
        'minted one that was never received; it expires at the TTL of the secret',
    );
  }
  return err;
}

export async function revokeUnrecorded(
  st: LeaseState,
  recorded: Recorded,
  store: UsableStore,
): Promise<void> {
  const current = recorded.status.current;
  if (!current) return;
  const pending: PendingRevocation = { ...current, revokeAfter: current.issuedAt, attempts: 0 };
  const decision = chooseRoute(pending, {
    method: store.method,
    serviceIdInUse: current.serviceIdShared === true,
    newestOfSecret: true,
  });
  if (decision.kind === 'skip') {
    st.report.unrecorded(
      `credential ${current.serviceId} could not be recorded: ${decision.message}`,
    );
    return;
  }
  const outcome = await executeRevocation(store.client, decision, { signal: st.signal });
  if (!outcome.ok) {
    st.report.unrecorded(
      `credential ${current.serviceId} could not be recorded and revoking it failed (${outcome.message}); it expires at ${current.expiresAt}`,
    );
  }
}
