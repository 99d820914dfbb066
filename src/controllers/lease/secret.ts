// The lease's Secret: writing it with its owner, finding the one that holds the credential,
// refusing someone else's, moving the credential to a new name, and rolling workloads after.
import type { V1Secret } from '@kubernetes/client-node';
import {
  computeRenewAt,
  leaseTargetName,
  type IAMCredentialLeaseStatus as Status,
} from '../../api/index.ts';
import { EVENT_REASONS } from '../shared/reasons.ts';
import { restartWorkloads } from '../shared/rollout.ts';
import {
  decodeData,
  deleteSecretIfOwned,
  hashData,
  readSecret,
  type SecretValue,
} from '../shared/secrets.ts';
import { targetOwnership, writeTarget } from '../shared/target.ts';
import { ms, rfc3339 } from './decide.ts';
import type { LeaseState } from './state.ts';
import { leaseSecretData, renderedNow } from './template.ts';

/**
 * The Secret's data for a credential under the spec's target name and keys, and the status
 * fields that record where it is (the data hash lets a reconcile tell the Secret still holds it).
 */
export async function secretFor(
  st: LeaseState,
  apiKey: string,
  serviceId: string,
  hashKey: Uint8Array,
): Promise<{
  name: string;
  data: Record<string, SecretValue>;
  record: Pick<Status, 'secretName' | 'secretKeys' | 'dataHash'>;
}> {
  const keys = st.lease.spec.target.keys;
  const data = await leaseSecretData(st, apiKey, serviceId);
  const name = leaseTargetName(st.lease);
  return {
    name,
    data,
    record: {
      secretName: name,
      secretKeys: { apiKey: keys.apiKey, serviceId: keys.serviceId },
      dataHash: hashData(data, hashKey),
    },
  };
}

/** Applies the Secret with the lease as its controller owner and the data hash stamped. */
export async function applyLeaseSecret(
  st: LeaseState,
  name: string,
  data: Record<string, SecretValue>,
): Promise<void> {
  const { target } = st.lease.spec;
  const meta = target.template?.metadata;
  st.signal.throwIfAborted();
  await writeTarget(st.o.secrets, {
    namespace: st.ns,
    name,
    data,
    type: target.template?.type ?? 'Opaque',
    labels: meta?.labels ? { ...target.labels, ...meta.labels } : target.labels,
    annotations: meta?.annotations
      ? { ...target.annotations, ...meta.annotations }
      : target.annotations,
    ...(st.status.dataHash ? { hash: st.status.dataHash } : {}),
    owner: {
      apiVersion: st.lease.apiVersion,
      kind: st.lease.kind,
      name: st.name,
      uid: st.uid,
    },
  });
}

/**
 * A Secret of the target name that this lease does not own (someone else's, or another
 * lease's) is never taken over: its owner reference would let garbage collection delete it.
 * Checked only when the credential is about to go into a Secret it is not in yet.
 */
export async function targetConflict(
  st: LeaseState,
  leasing: boolean,
  held: V1Secret | undefined,
): Promise<string | undefined> {
  const name = leaseTargetName(st.lease);
  const same = st.status.current !== undefined && st.status.secretName === name;
  if (!leasing && same) return undefined;
  const existing = same ? held : await readSecret(st.o.secrets, st.ns, name);
  const ownership = targetOwnership(existing, st.uid);
  if (ownership === 'absent' || ownership === 'self') return undefined;
  return `Secret ${name} already exists and is not owned by this IAMCredentialLease; delete it or choose another spec.target.name`;
}

/** The Secret recorded in status, when there is a current credential to find in it. */
export async function heldSecret(st: LeaseState): Promise<V1Secret | undefined> {
  const name = st.status.secretName;
  if (!st.status.current || !name) return undefined;
  return readSecret(st.o.secrets, st.ns, name);
}

/** A changed renewBefore/renewFraction moves the renewal time of the current credential. */
export function applyRenewPolicy(st: LeaseState): void {
  const current = st.status.current;
  if (!current || current.reused) return;
  const renewAt = computeRenewAt(
    ms(current.issuedAt),
    ms(current.expiresAt),
    st.lease.spec,
    st.o.random,
  );
  st.status = { ...st.status, current: { ...current, renewAt: rfc3339(renewAt) } };
}

/**
 * The spec changed but not the source: the same credential is written under the new name,
 * keys, labels and annotations. The key is taken from the Secret, its only copy.
 */
export async function rewriteSecret(
  st: LeaseState,
  held: V1Secret,
  hashKey: Uint8Array,
): Promise<void> {
  const oldKeys = st.status.secretKeys;
  const values = decodeData(held.data);
  const apiKey = oldKeys && values[oldKeys.apiKey];
  const serviceId = oldKeys && values[oldKeys.serviceId];
  if (apiKey === undefined || serviceId === undefined) return;
  const { name: targetName, data, record } = await secretFor(st, apiKey, serviceId, hashKey);
  const oldName = st.status.secretName;
  st.status = { ...st.status, ...record };
  await applyLeaseSecret(st, targetName, data);
  if (oldName && oldName !== targetName) {
    await deleteSecretIfOwned(st.o.secrets, st.ns, oldName, st.uid);
    st.report.event(
      'Normal',
      EVENT_REASONS.SecretRewritten,
      `moved the credential from Secret ${oldName} to ${targetName} without leasing a new one`,
    );
  }
}

export async function rolloutIfPending(st: LeaseState): Promise<void> {
  const current = st.status.current;
  if (!current?.restartPending) return;
  const targets = st.lease.spec.rolloutRestartTargets ?? [];
  if (targets.length > 0) {
    st.signal.throwIfAborted();
    // The stamp is the credential's issue time: repeating it after a crash restarts nothing.
    await restartWorkloads(
      st.o.rollout,
      { events: st.o.events },
      st.subject(),
      targets,
      current.issuedAt,
      `for credential ${current.serviceId}`,
    );
  }
  const { restartPending: _r, ...rest } = current;
  st.status = { ...st.status, current: rest };
}

/**
 * Whether the Secret, which holds the current credential, no longer holds what the template
 * renders from it now (a templateFrom ConfigMap changed): then it is rewritten, not re-leased.
 */
export async function renderedStale(
  st: LeaseState,
  held: V1Secret,
  hashKey: Uint8Array,
): Promise<boolean> {
  if (!st.lease.spec.target.template) return false;
  const keys = st.status.secretKeys;
  const values = decodeData(held.data);
  const apiKey = keys && values[keys.apiKey];
  const serviceId = keys && values[keys.serviceId];
  if (apiKey === undefined || serviceId === undefined) return false;
  const data = await renderedNow(st, apiKey, serviceId);
  return data !== undefined && hashData(data, hashKey) !== st.status.dataHash;
}
