// Example resources, written the way BRIEF.md proposes the API. Unit tests parse them, the
// integration test applies them to a real API server, and docs may quote them.
import { API_VERSION } from './group.ts';

export const exampleSecretStore = {
  apiVersion: API_VERSION,
  kind: 'SecretStore' as const,
  metadata: { name: 'team-secrets', namespace: 'payments' },
  spec: {
    secretsManager: {
      instanceId: '0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
      region: 'us-south',
      private: true,
      iamUrl: 'https://private.iam.cloud.ibm.com',
      auth: { apiKey: { secretRef: { name: 'sm-api-key', key: 'apikey' } } },
    },
    rateLimit: { qps: 10, burst: 20 },
  },
};

export const exampleClusterSecretStore = {
  apiVersion: API_VERSION,
  kind: 'ClusterSecretStore' as const,
  metadata: { name: 'default' },
  spec: {
    secretsManager: {
      url: 'https://0a1b2c3d-aaaa-bbbb-cccc-0123456789ab.us-south.secrets-manager.appdomain.cloud',
      auth: {
        apiKey: {
          secretRef: { name: 'sm-api-key', key: 'apikey', namespace: 'secrets-manager-system' },
        },
      },
      revocation: 'serviceId',
    },
    conditions: [
      { namespaces: ['payments', 'billing'] },
      { namespaceSelector: { matchLabels: { 'secrets-manager.dev/allowed': 'true' } } },
    ],
  },
};

/** A keyless SecretStore: a service account of its namespace, traded at IAM for a token. */
export const trustedProfileSecretStore = {
  apiVersion: API_VERSION,
  kind: 'SecretStore' as const,
  metadata: { name: 'keyless', namespace: 'payments' },
  spec: {
    secretsManager: {
      instanceId: '0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
      region: 'us-south',
      auth: {
        trustedProfile: {
          profileName: 'payments-secrets-reader',
          accountId: '0123456789abcdef0123456789abcdef',
          serviceAccountRef: { name: 'secrets-reader' },
        },
      },
    },
  },
};

/** A keyless ClusterSecretStore: the operator's own projected token. */
export const trustedProfileClusterSecretStore = {
  apiVersion: API_VERSION,
  kind: 'ClusterSecretStore' as const,
  metadata: { name: 'platform' },
  spec: {
    secretsManager: {
      instanceId: '0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
      region: 'us-south',
      auth: {
        trustedProfile: {
          profileId: 'Profile-9e5b3c44-6f2e-4d4e-9a8c-1c2b3d4e5f60',
          tokenPath: '/var/run/secrets/tokens/sa-token',
        },
      },
    },
  },
};

export const exampleExternalSecret = {
  apiVersion: API_VERSION,
  kind: 'ExternalSecret' as const,
  metadata: { name: 'db', namespace: 'payments' },
  spec: {
    storeRef: { kind: 'SecretStore', name: 'team-secrets' },
    refreshInterval: '15m',
    target: {
      name: 'db-credentials',
      creationPolicy: 'Owner',
      deletionPolicy: 'Retain',
      labels: { app: 'web' },
    },
    data: [
      {
        secretKey: 'username',
        remoteRef: { type: 'username_password', name: 'db', property: 'username' },
      },
      {
        secretKey: 'password',
        remoteRef: { type: 'username_password', name: 'db', property: 'password' },
      },
      {
        secretKey: 'api-token',
        remoteRef: {
          type: 'arbitrary',
          id: '582a8f65-9a2b-a072-4fc3-e69ff3462c23',
          group: '339c026a-ac0f-1ea1-3d43-99adf871b49a',
          version: 'previous',
        },
      },
    ],
    dataFrom: [
      { extract: { type: 'kv', name: 'app-config', keyPrefix: 'config_' } },
      { find: { type: 'arbitrary', labels: ['payments'], name: { regexp: '^payments-' } } },
    ],
    rolloutRestartTargets: [{ kind: 'Deployment', name: 'web' }],
  },
};

/** The smallest useful ExternalSecret: the default store, the default refresh. */
export const minimalExternalSecret = {
  apiVersion: API_VERSION,
  kind: 'ExternalSecret' as const,
  metadata: { name: 'greeting', namespace: 'payments' },
  spec: {
    data: [{ secretKey: 'greeting', remoteRef: { type: 'arbitrary', name: 'greeting' } }],
  },
};

export const scheduledExternalSecret = {
  apiVersion: API_VERSION,
  kind: 'ExternalSecret' as const,
  metadata: { name: 'certs', namespace: 'payments' },
  spec: {
    storeRef: { kind: 'ClusterSecretStore', name: 'default' },
    refreshSchedule: '0 */6 * * *',
    target: { type: 'kubernetes.io/tls' },
    data: [
      {
        secretKey: 'tls.crt',
        remoteRef: { type: 'public_cert', name: 'www', property: 'certificate' },
      },
      {
        secretKey: 'tls.key',
        remoteRef: { type: 'public_cert', name: 'www', property: 'private_key' },
      },
    ],
  },
};

export const exampleClusterExternalSecret = {
  apiVersion: API_VERSION,
  kind: 'ClusterExternalSecret' as const,
  metadata: { name: 'registry-pull-secret' },
  spec: {
    namespaceSelectors: [
      { matchLabels: { 'secrets-manager.dev/registry': 'true' } },
      { matchExpressions: [{ key: 'team', operator: 'In', values: ['payments', 'billing'] }] },
    ],
    namespaces: ['ci'],
    externalSecretName: 'registry',
    externalSecretMetadata: { labels: { app: 'registry' }, annotations: { owner: 'platform' } },
    refreshTime: '5m',
    externalSecretSpec: {
      storeRef: { kind: 'ClusterSecretStore', name: 'default' },
      refreshInterval: '1h',
      target: { name: 'registry-pull-secret', type: 'kubernetes.io/dockerconfigjson' },
      data: [
        {
          secretKey: '.dockerconfigjson',
          remoteRef: { type: 'arbitrary', name: 'registry-dockerconfigjson' },
        },
      ],
    },
  },
};

export const exampleIAMCredentialLease = {
  apiVersion: API_VERSION,
  kind: 'IAMCredentialLease' as const,
  metadata: { name: 'cos-writer', namespace: 'payments' },
  spec: {
    storeRef: { kind: 'SecretStore', name: 'team-secrets' },
    credential: { name: 'cos-writer', group: '714e070d-8122-6270-198c-fef9166729e3' },
    target: {
      name: 'cos-credentials',
      keys: { apiKey: 'COS_API_KEY', serviceId: 'COS_SERVICE_ID' },
      labels: { app: 'uploader' },
    },
    renewFraction: 0.5,
    gracePeriod: '2m',
    revokeOnDelete: true,
    rolloutRestartTargets: [{ kind: 'Deployment', name: 'uploader' }],
  },
};

export const minimalIAMCredentialLease = {
  apiVersion: API_VERSION,
  kind: 'IAMCredentialLease' as const,
  metadata: { name: 'reporter', namespace: 'payments' },
  spec: { credential: { id: 'd7a2b83f-997c-4914-857a-86bfcdbf0873' }, renewBefore: '10m' },
};

/** A lease status as a controller writes it, to prove the status schema round-trips. */
export const exampleIAMCredentialLeaseStatus = {
  observedGeneration: 3,
  secretName: 'cos-credentials',
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'Leased',
      message: 'credential ServiceId-43c79ec9 valid until 2026-01-02T04:04:05Z',
      lastTransitionTime: '2026-01-02T03:04:05Z',
      observedGeneration: 3,
    },
  ],
  current: {
    serviceId: 'ServiceId-43c79ec9-7f02-481d-92f1-e60363483298',
    secretId: 'd7a2b83f-997c-4914-857a-86bfcdbf0873',
    issuedAt: '2026-01-02T03:04:05Z',
    expiresAt: '2026-01-02T04:04:05Z',
    renewAt: '2026-01-02T03:40:05Z',
    reused: false,
    sourceHash: 'sha256:1f2e3d',
  },
  pendingRevocations: [
    {
      serviceId: 'ServiceId-d1a99978-2108-4eec-9dae-bdf5691e7136',
      secretId: 'd7a2b83f-997c-4914-857a-86bfcdbf0873',
      expiresAt: '2026-01-02T03:30:00Z',
      revokeAfter: '2026-01-02T03:09:05Z',
      reason: 'Replaced',
      attempts: 1,
      lastAttemptTime: '2026-01-02T03:09:06Z',
      lastError: 'IAM answered 503; retrying',
      route: 'serviceId',
    },
  ],
  revoked: [
    {
      serviceId: 'ServiceId-0576925a-9651-4f3e-b8c7-ce1332324aa4',
      secretId: 'd7a2b83f-997c-4914-857a-86bfcdbf0873',
      route: 'serviceId',
      result: 'Revoked',
      time: '2026-01-02T02:09:05Z',
    },
  ],
};
