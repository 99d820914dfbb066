// What the lease reconciler and each of its steps are given (its own module, so the steps can
// name it without importing the reconciler).
import type { IAMCredentialLease } from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import type { ObjectKey } from '../../runtime/reconciler.ts';
import type { HashKeySource } from '../shared/hashkey.ts';
import type { CustomResources } from '../shared/resources.ts';
import type { RolloutApi } from '../shared/rollout.ts';
import type { SecretsApi } from '../shared/secrets.ts';
import type { EventSink, StatusWriter } from '../shared/status.ts';
import type { ConfigMapSource } from '../shared/template.ts';
import type { ResolveResult } from '../store/registry.ts';
import type { LeaseMetrics } from './metrics.ts';

export interface LeaseHooks {
  /** Runs after a credential was read and before it is recorded (tests stop the operator here). */
  afterRead?(key: ObjectKey): Promise<void>;
}

export type LeaseResources = Pick<
  CustomResources,
  'read' | 'patchStatus' | 'replaceStatus' | 'setFinalizers'
>;

export interface LeaseReconcilerOptions {
  clock: Clock;
  random: () => number;
  resources: LeaseResources;
  secrets: SecretsApi;
  /** Rollout restarts (the API server's apps/v1, or a fake in tests). */
  rollout: RolloutApi;
  events: EventSink;
  stores: {
    resolve(namespace: string, ref: IAMCredentialLease['spec']['storeRef']): ResolveResult;
  };
  hashKey: HashKeySource;
  /** Every lease the operator knows (the informer cache), to see credentials of other leases. */
  leases: () => unknown[];
  metrics: LeaseMetrics;
  /** The status writer (replace mode); made from `resources` when omitted. */
  status: StatusWriter;
  revocationTimeoutMs?: number;
  hooks?: LeaseHooks;
  /** Where spec.target.template.templateFrom ConfigMaps are read (none: templateFrom fails). */
  configMaps?: ConfigMapSource;
}
