/** The API group and version every kind of this operator is served under. */
export const GROUP = 'secrets-manager.dev';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;

/** The category `kubectl get secrets-manager` lists. */
export const CATEGORY = 'secrets-manager';

export const KINDS = {
  SecretStore: 'SecretStore',
  ClusterSecretStore: 'ClusterSecretStore',
  ExternalSecret: 'ExternalSecret',
  IAMCredentialLease: 'IAMCredentialLease',
  ClusterExternalSecret: 'ClusterExternalSecret',
} as const;
export type Kind = (typeof KINDS)[keyof typeof KINDS];

/** Plural resource names, as used in API paths and RBAC rules. */
export const PLURALS = {
  SecretStore: 'secretstores',
  ClusterSecretStore: 'clustersecretstores',
  ExternalSecret: 'externalsecrets',
  IAMCredentialLease: 'iamcredentialleases',
  ClusterExternalSecret: 'clusterexternalsecrets',
} as const satisfies Record<Kind, string>;

/** The ClusterSecretStore a resource uses when it names no store. */
export const DEFAULT_STORE_NAME = 'default';
