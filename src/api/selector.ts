import type { LabelSelector } from './common.ts';
import type { StoreCondition } from './store.ts';

/** Whether labels satisfy a selector, with metav1.LabelSelector semantics (empty matches all). */
export function matchesLabelSelector(
  selector: LabelSelector,
  labels: Readonly<Record<string, string>> = {},
): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const requirement of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(labels, requirement.key);
    const value = labels[requirement.key];
    const values = requirement.values ?? [];
    switch (requirement.operator) {
      case 'In':
        if (!present || !values.includes(value as string)) return false;
        break;
      case 'NotIn':
        if (present && values.includes(value as string)) return false;
        break;
      case 'Exists':
        if (!present) return false;
        break;
      case 'DoesNotExist':
        if (present) return false;
        break;
    }
  }
  return true;
}

export interface NamespaceInfo {
  name: string;
  labels?: Readonly<Record<string, string>>;
}

/**
 * Whether a ClusterSecretStore's `spec.conditions` admit a namespace: no conditions admit
 * every namespace; otherwise any entry that lists the name or whose selector matches admits it.
 */
export function namespaceAllowed(
  conditions: readonly StoreCondition[] | undefined,
  namespace: NamespaceInfo,
): boolean {
  if (!conditions || conditions.length === 0) return true;
  return conditions.some(
    (condition) =>
      (condition.namespaces?.includes(namespace.name) ?? false) ||
      (condition.namespaceSelector !== undefined &&
        matchesLabelSelector(condition.namespaceSelector, namespace.labels)),
  );
}
