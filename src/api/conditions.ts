import type { Condition, ConditionStatus } from './common.ts';

export const READY = 'Ready';

/** A condition as a controller states it; the transition time is worked out by `setCondition`. */
export interface ConditionUpdate {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
}

/**
 * Returns a new list with `next` set. `lastTransitionTime` moves only when the status changes,
 * so it answers "since when has this been true/false" (Kubernetes API conventions). Other
 * conditions and their order are kept; a new type is appended. The input is not modified.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  next: ConditionUpdate,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const previous = list.find((condition) => condition.type === next.type);
  const updated: Condition = {
    type: next.type,
    status: next.status,
    reason: next.reason,
    message: next.message,
    lastTransitionTime:
      previous !== undefined && previous.status === next.status
        ? previous.lastTransitionTime
        : toRfc3339(now),
    ...(next.observedGeneration !== undefined
      ? { observedGeneration: next.observedGeneration }
      : {}),
  };
  if (previous === undefined) return [...list, updated];
  return list.map((condition) => (condition.type === next.type ? updated : condition));
}

export function findCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

/** True when the condition exists, is True and (if a generation is given) is not stale. */
export function isConditionTrue(
  conditions: readonly Condition[] | undefined,
  type: string,
  generation?: number,
): boolean {
  const condition = findCondition(conditions, type);
  if (condition?.status !== 'True') return false;
  return generation === undefined || condition.observedGeneration === generation;
}

/**
 * Whether applying `next` would change nothing, so a controller can skip the status write (and
 * the watch event it causes).
 */
export function conditionUnchanged(
  conditions: readonly Condition[] | undefined,
  next: ConditionUpdate,
): boolean {
  const current = findCondition(conditions, next.type);
  return (
    current !== undefined &&
    current.status === next.status &&
    current.reason === next.reason &&
    current.message === next.message &&
    current.observedGeneration === next.observedGeneration
  );
}

/** RFC 3339 with second precision, as metav1.Time serializes. */
export function toRfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
