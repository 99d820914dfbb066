// Names the controllers put on Kubernetes objects. Docs, examples, RBAC and tests use these.
import { GROUP } from '../../api/group.ts';

/** The server-side apply field manager of everything the operator writes. */
export const FIELD_MANAGER = 'secrets-manager-operator';

/** `reportingComponent` of Events and the value of the managed-by label. */
export const COMPONENT = 'secrets-manager-operator';

export const FINALIZERS = {
  ExternalSecret: `${GROUP}/externalsecret`,
  IAMCredentialLease: `${GROUP}/lease`,
} as const;

export const ANNOTATIONS = {
  /** On an ExternalSecret or a lease: any new value forces a sync now. */
  forceSync: `${GROUP}/force-sync`,
  /** On a Secret we write: the keyed hash of the data we wrote. */
  dataHash: `${GROUP}/data-hash`,
  /** On a workload's pod template: set to a timestamp to roll the pods. */
  restartedAt: `${GROUP}/restartedAt`,
} as const;

export const LABELS = {
  /** On every Secret the operator writes, so the Secret informer can be label-scoped. */
  managedBy: `${GROUP}/managed-by`,
  /** On an ExternalSecret a ClusterExternalSecret created: the ClusterExternalSecret's name. */
  clusterExternalSecret: `${GROUP}/cluster-external-secret`,
} as const;

export const MANAGED_BY_VALUE = COMPONENT;

/** The label selector of the Secrets the operator writes. */
export const MANAGED_SECRETS_SELECTOR = `${LABELS.managedBy}=${MANAGED_BY_VALUE}`;
