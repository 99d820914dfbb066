// The ExternalSecret controller's decisions, as pure functions of the resource, the target
// Secret as seen, and the time: whether to read Secrets Manager now and why, whether the target
// can be written, whether it must be. The reconciler reads the world and acts on the answers.
import type { V1Secret } from '@kubernetes/client-node';
import {
  type ConditionUpdate,
  type ExternalSecret,
  externalSecretTargetName,
  findCondition,
  READY,
  EXTERNAL_SECRET_REASONS as REASONS,
  type RefreshPlan,
  setCondition,
} from '../../api/index.ts';
import { SECRET_TYPES, type SecretType } from '../../secretsmanager/index.ts';
import { ANNOTATIONS } from '../shared/constants.ts';
import { type SecretValue, secretDataHash, valueBytes } from '../shared/secrets.ts';
import { targetOwnership } from '../shared/target.ts';
import { nextRefreshAt } from './refresh.ts';

/** Why a reconcile reads Secrets Manager; undefined: nothing to do until the next refresh. */
export type DueReason =
  | 'spec'
  | 'retry'
  | 'force'
  | 'secretMissing'
  | 'secretChanged'
  | 'refresh'
  /** The store's lists show that a secret this resource synced from changed or vanished. */
  | 'remoteChanged'
  /** A ConfigMap of spec.target.template.templateFrom changed. */
  | 'template';

export type Status = NonNullable<ExternalSecret['status']>;

/** Retry of a store that exists but was not validated by this process yet. */
export const STORE_PENDING_RETRY_MS = 2_000;
/** Safety nets for states that events normally end (a store becoming ready, a Secret created). */
export const STORE_NOT_READY_RETRY_MS = 60_000;
export const FORBIDDEN_RETRY_MS = 10 * 60_000;
export const MERGE_TARGET_RETRY_MS = 30_000;
/** Retry of failures that are states rather than errors, for resources that sync once. */
export const STATE_RETRY_MS = 5 * 60_000;

/** Not again for this generation: a bad spec, or a credential that would mint another key. */
export function isBlocked(es: ExternalSecret): boolean {
  const ready = findCondition(es.status?.conditions, READY);
  return (
    ready?.status === 'False' &&
    ready.observedGeneration === (es.metadata.generation ?? 0) &&
    (ready.reason === REASONS.InvalidSpec || ready.reason === REASONS.UseIAMCredentialLease)
  );
}

/**
 * The reasons to sync that need no look at the target Secret, or `checkTarget` when the answer
 * depends on it (a Ready resource whose Secret may have been deleted or edited).
 */
export function dueWithoutTarget(es: ExternalSecret): DueReason | 'checkTarget' | 'notDue' {
  const status: Status = es.status ?? {};
  if (isBlocked(es)) return 'notDue';
  if (status.observedGeneration !== (es.metadata.generation ?? 0)) return 'spec';
  const force = es.metadata.annotations?.[ANNOTATIONS.forceSync];
  if (force !== undefined && force !== status.forceSyncValue) return 'force';
  if (findCondition(status.conditions, READY)?.status !== 'True') return 'retry';
  return status.syncedDataHash !== undefined ? 'checkTarget' : 'notDue';
}

/**
 * Why to sync now. `target` is what was seen of the target Secret (`meta` undefined: it does
 * not exist); it is needed only when `dueWithoutTarget` says `checkTarget`.
 */
export function dueReason(
  es: ExternalSecret,
  plan: RefreshPlan,
  now: number,
  target?: { meta: Pick<V1Secret, 'metadata'> | undefined },
): DueReason | undefined {
  const first = dueWithoutTarget(es);
  if (first === 'checkTarget' && target) {
    const meta = target.meta;
    if (!meta) return 'secretMissing';
    if (
      es.spec.target.creationPolicy !== 'Merge' &&
      secretDataHash(meta) !== es.status?.syncedDataHash
    ) {
      return 'secretChanged';
    }
  } else if (first !== 'notDue' && first !== 'checkTarget') {
    return first;
  } else if (isBlocked(es)) {
    return undefined;
  }
  const next = nextRefresh(es, plan, now);
  return next !== undefined && next <= now ? 'refresh' : undefined;
}

/** Refreshes, forced syncs and remote changes are routine: they read the target only to write it. */
export function isRoutine(why: DueReason): boolean {
  return why === 'refresh' || why === 'force' || why === 'remoteChanged';
}

/** The secret types a resource's dataFrom.find entries list (none: every listable type). */
export function findTypes(es: ExternalSecret): SecretType[] {
  const out = new Set<SecretType>();
  for (const item of es.spec.dataFrom ?? []) {
    if (!item.find) continue;
    if (item.find.type !== undefined) {
      if (item.find.type !== 'iam_credentials') out.add(item.find.type);
    } else for (const t of SECRET_TYPES) if (t !== 'iam_credentials') out.add(t);
  }
  return [...out];
}

/** When the next refresh is due after the last one (now, if there never was one). */
export function nextRefresh(
  es: ExternalSecret,
  plan: RefreshPlan,
  now: number,
): number | undefined {
  const last = es.status?.refreshTime ? Date.parse(es.status.refreshTime) : undefined;
  if (last === undefined) return now;
  return nextRefreshAt(plan, last, uidOf(es));
}

/** The wait after a failure that is a state, not an error: until the next refresh. */
export function retryAtNextRefreshMs(es: ExternalSecret, plan: RefreshPlan, now: number): number {
  const next = plan.kind === 'once' ? undefined : nextRefreshAt(plan, now, es.metadata.uid ?? '');
  return Math.max(1_000, next === undefined ? STATE_RETRY_MS : next - now);
}

export interface TargetProblem {
  reason: string;
  message: string;
  retryMs: number;
}

/** Why the target cannot be written now, if it cannot. */
export function targetProblem(
  es: ExternalSecret,
  existing: Pick<V1Secret, 'metadata'> | undefined,
): TargetProblem | undefined {
  const name = externalSecretTargetName(es);
  const policy = es.spec.target.creationPolicy;
  if (policy === 'Merge') {
    if (existing) return undefined;
    return {
      reason: REASONS.SyncError,
      message: `Secret ${name} does not exist; creationPolicy Merge only adds keys to an existing Secret, so this waits for it`,
      retryMs: MERGE_TARGET_RETRY_MS,
    };
  }
  const ownership = targetOwnership(existing, es.metadata.uid ?? '');
  if (ownership === 'foreign') {
    return {
      reason: REASONS.TargetConflict,
      message: `Secret ${name} exists and was not created by this operator; delete it, choose another spec.target.name, or use creationPolicy Merge`,
      retryMs: STATE_RETRY_MS,
    };
  }
  if (ownership === 'other') {
    return {
      reason: REASONS.TargetConflict,
      message: `Secret ${name} is owned by another object; choose another spec.target.name`,
      retryMs: STATE_RETRY_MS,
    };
  }
  return undefined;
}

/**
 * Whether a sync may take a target Secret the cache does not show as absent, and write it
 * create-only without reading it first: not for Merge, which writes only into a Secret that
 * exists, nor while the last sync found one that is not this resource's to write (it looks
 * first until that is resolved, instead of a refused write at every retry).
 */
export function presumesAbsentTarget(es: ExternalSecret): boolean {
  if (es.spec.target.creationPolicy === 'Merge') return false;
  return findCondition(es.status?.conditions, READY)?.reason !== REASONS.TargetConflict;
}

/** What this process remembers of its last write of a target Secret. */
export interface Written {
  resourceVersion: string | undefined;
  hash: string;
}

/**
 * Whether the Secret must be written: `write`, `skip`, or `compare` (its values must be read
 * and compared, because this process did not write what is there now). Not when the data hash
 * equals what status recorded, the spec was applied, and the Secret still carries that hash at
 * the resourceVersion our last write left.
 */
export function writeDecision(
  es: ExternalSecret,
  hash: string,
  target: Pick<V1Secret, 'metadata'> | undefined,
  written: Written | undefined,
): 'write' | 'skip' | 'compare' {
  const status: Status = es.status ?? {};
  if (status.syncedDataHash !== hash || status.secretName !== externalSecretTargetName(es)) {
    return 'write';
  }
  // Labels, annotations, type or policy may have changed with the spec: apply them.
  if (status.observedGeneration !== (es.metadata.generation ?? 0)) return 'write';
  if (!target) return 'write';
  if (es.spec.target.creationPolicy !== 'Merge' && secretDataHash(target) !== hash) return 'write';
  if (written?.hash === hash && written.resourceVersion === target.metadata?.resourceVersion) {
    return 'skip';
  }
  return 'compare';
}

/** Whether the Secret already holds every value of `data`, byte for byte. */
export function holdsValues(
  data: Readonly<Record<string, SecretValue>>,
  current: Readonly<Record<string, SecretValue>>,
): boolean {
  return Object.entries(data).every(([k, v]) => {
    const held = current[k];
    return held !== undefined && valueBytes(held).equals(valueBytes(v));
  });
}

/** A finalizer only where deletion needs more than garbage collection. */
export function needsFinalizer(es: ExternalSecret): boolean {
  return es.spec.target.deletionPolicy === 'Delete' && es.spec.target.creationPolicy !== 'Owner';
}

export interface ReadyState {
  ready: boolean;
  reason: string;
  message: string;
}

/**
 * The whole status after a reconcile: Ready, observedGeneration, the target's name, and `extra`
 * fields (null removes one). `raw` is the resource as read, `es` its parsed form if it parses.
 */
export function nextStatus(
  raw: { metadata: { generation?: number }; status?: unknown },
  es: ExternalSecret | undefined,
  ready: ReadyState,
  extra: Record<string, unknown>,
  now: number,
): Record<string, unknown> {
  const status = (raw.status ?? {}) as Status;
  const generation = raw.metadata.generation ?? 0;
  const update: ConditionUpdate = {
    type: READY,
    status: ready.ready ? 'True' : 'False',
    reason: ready.reason,
    message: ready.message,
    observedGeneration: generation,
  };
  const secretName = es ? externalSecretTargetName(es) : status.secretName;
  return {
    ...status,
    conditions: setCondition(status.conditions, update, new Date(now)),
    observedGeneration: generation,
    ...(secretName !== undefined ? { secretName } : {}),
    ...extra,
  };
}

/** The Ready message of a synced resource. */
export function syncedMessage(keys: number, store: string, secret: string): string {
  return `${keys} ${keys === 1 ? 'key' : 'keys'} from ${store} in Secret ${secret}`;
}

function uidOf(es: ExternalSecret): string {
  return es.metadata.uid ?? `${es.metadata.namespace ?? ''}/${es.metadata.name}`;
}
