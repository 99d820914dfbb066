// Rolling restarts of workloads after a Secret they read through environment variables changed,
// the way `kubectl rollout restart` does it: a new pod template annotation.
import { describeError } from '../../runtime/errors.ts';
import { isApiError } from '../../runtime/kube.ts';
import { type AppsApi, PatchType } from '../../runtime/kubeapi.ts';
import { ANNOTATIONS } from './constants.ts';
import type { EventSubject, EventType } from './events.ts';
import { EVENT_REASONS } from './reasons.ts';

export interface RolloutTarget {
  kind: 'Deployment' | 'StatefulSet' | 'DaemonSet';
  name: string;
}

export interface RolloutResult {
  /** `Deployment/web` and so on. */
  restarted: string[];
  failed: { target: string; message: string }[];
}

export type RolloutApi = Pick<
  AppsApi,
  'patchNamespacedDeployment' | 'patchNamespacedStatefulSet' | 'patchNamespacedDaemonSet'
>;

const mergePatch = PatchType.Merge;

/**
 * Stamps `secrets-manager.dev/restartedAt: <stamp>` on the pod template of each target in
 * `namespace` (and nowhere else). A missing target is reported, not thrown; every target is
 * tried. Patching the same stamp twice is a no-op for the API server, so a retry after a crash
 * does not restart twice.
 */
export async function rolloutRestart(
  api: RolloutApi,
  namespace: string,
  targets: readonly RolloutTarget[],
  stamp: string,
): Promise<RolloutResult> {
  const body = {
    spec: { template: { metadata: { annotations: { [ANNOTATIONS.restartedAt]: stamp } } } },
  };
  const result: RolloutResult = { restarted: [], failed: [] };
  for (const target of targets) {
    const label = `${target.kind}/${target.name}`;
    const request = { name: target.name, namespace, body };
    try {
      if (target.kind === 'Deployment') await api.patchNamespacedDeployment(request, mergePatch);
      else if (target.kind === 'StatefulSet')
        await api.patchNamespacedStatefulSet(request, mergePatch);
      else await api.patchNamespacedDaemonSet(request, mergePatch);
      result.restarted.push(label);
    } catch (err) {
      const message = isApiError(err, 404)
        ? `${label} does not exist in namespace ${namespace}`
        : describeError(err).message;
      result.failed.push({ target: label, message });
    }
  }
  return result;
}

/** Where `restartWorkloads` reports: Events on the resource, and a counter when there is one. */
export interface RolloutReporting {
  events: {
    record(subject: EventSubject, type: EventType, reason: string, message: string): void;
  };
  /** Counts restarted and failed targets (`result` label). */
  counter?: { inc(labels: { result: string }, value?: number): void };
}

/**
 * Restarts `targets` of the resource `subject` and reports the outcome: one Normal Event
 * `RolloutRestarted` naming what restarted (`because` says why), one Warning
 * `RolloutRestartFailed` per target that could not be. Never throws: a restart that fails must
 * not undo or repeat the write that caused it.
 */
export async function restartWorkloads(
  api: RolloutApi,
  reporting: RolloutReporting,
  subject: EventSubject,
  targets: readonly RolloutTarget[],
  stamp: string,
  because: string,
): Promise<RolloutResult> {
  const namespace = subject.metadata.namespace as string;
  let result: RolloutResult;
  try {
    result = await rolloutRestart(api, namespace, targets, stamp);
  } catch (err) {
    const message = describeError(err).message;
    result = {
      restarted: [],
      failed: targets.map((t) => ({ target: `${t.kind}/${t.name}`, message })),
    };
  }
  const { events, counter } = reporting;
  if (result.restarted.length > 0) {
    counter?.inc({ result: 'restarted' }, result.restarted.length);
    events.record(
      subject,
      'Normal',
      EVENT_REASONS.RolloutRestarted,
      `restarted ${result.restarted.join(', ')} ${because}`,
    );
  }
  for (const failure of result.failed) {
    counter?.inc({ result: 'failed' });
    events.record(
      subject,
      'Warning',
      EVENT_REASONS.RolloutRestartFailed,
      `cannot restart ${failure.target}: ${failure.message}`,
    );
  }
  return result;
}
