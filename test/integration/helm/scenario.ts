// The rotation scenario, used by the local control plane (install.test.ts, no pod); the node
// suite (test/node) runs its own variant with pods: an ExternalSecret and an
// IAMCredentialLease through the default ClusterSecretStore, each rotated once. The emulator runs
// in the test process.
import { createHash } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { ANNOTATIONS } from '../../../src/controllers/shared/constants.ts';
import type { Emulator } from '../../../src/emulator/index.ts';
import { eventually } from '../support/cluster.ts';

export const ROTATION = {
  /** Short, so the lease renews within seconds; start the emulator with a minimum at or below. */
  credentialTtlSeconds: 12,
  remoteSecret: 'rotation-demo',
  remoteCredential: 'rotation-demo-key',
  externalSecret: 'rotation-demo',
  /** The ExternalSecret's target and its one key. */
  secret: 'rotation-demo',
  secretKey: 'value',
  lease: 'rotation-demo-key',
  /** The lease's target Secret and its API key field. */
  leaseSecret: 'rotation-demo-key',
  apiKeyKey: 'apikey',
  serviceIdKey: 'service_id',
  first: 'rotation-demo first value',
  second: 'rotation-demo second value',
} as const;

/** Creates the two remote secrets of the scenario in the emulator. */
export function seedRotation(emulator: Emulator): void {
  emulator.createSecret({
    type: 'arbitrary',
    name: ROTATION.remoteSecret,
    payload: ROTATION.first,
  });
  emulator.createSecret({
    type: 'iam_credentials',
    name: ROTATION.remoteCredential,
    access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
    ttl: ROTATION.credentialTtlSeconds,
    reuse_api_key: false,
  });
}

/** The ExternalSecret and the lease; no storeRef, so both use the ClusterSecretStore "default". */
export function rotationResources(namespace: string) {
  return {
    externalSecret: {
      apiVersion: API_VERSION,
      kind: 'ExternalSecret',
      metadata: { name: ROTATION.externalSecret, namespace },
      spec: {
        refreshInterval: '1h',
        target: { name: ROTATION.secret },
        data: [
          {
            secretKey: ROTATION.secretKey,
            remoteRef: { type: 'arbitrary', name: ROTATION.remoteSecret },
          },
        ],
      },
    },
    lease: {
      apiVersion: API_VERSION,
      kind: 'IAMCredentialLease',
      metadata: { name: ROTATION.lease, namespace },
      spec: {
        credential: { name: ROTATION.remoteCredential },
        target: {
          name: ROTATION.leaseSecret,
          keys: { apiKey: ROTATION.apiKeyKey, serviceId: ROTATION.serviceIdKey },
        },
        renewFraction: 0.5,
        // Long enough for a pod to read the replaced key after its mount is updated.
        gracePeriod: '5s',
      },
    },
  };
}

export async function applyRotationResources(kc: KubeConfig, namespace: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const { externalSecret, lease } = rotationResources(namespace);
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.ExternalSecret,
    namespace,
    body: externalSecret,
  });
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.IAMCredentialLease,
    namespace,
    body: lease,
  });
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** What the two Secrets hold now, as hashes (values never leave this function). */
export interface RotationState {
  value?: string;
  apiKey?: string;
}

export async function readRotationState(kc: KubeConfig, namespace: string): Promise<RotationState> {
  const core = kc.makeApiClient(CoreV1Api);
  const field = async (name: string, key: string) => {
    try {
      const data = (await core.readNamespacedSecret({ name, namespace })).data?.[key];
      return data === undefined ? undefined : sha256(Buffer.from(data, 'base64').toString('utf8'));
    } catch {
      return undefined;
    }
  };
  return {
    value: await field(ROTATION.secret, ROTATION.secretKey),
    apiKey: await field(ROTATION.leaseSecret, ROTATION.apiKeyKey),
  };
}

/** Both Secrets written; the ExternalSecret's holds the first value. */
export function waitForFirstSync(
  kc: KubeConfig,
  namespace: string,
  timeoutMs = 60_000,
): Promise<Required<RotationState>> {
  return eventually(
    'the rotation scenario Secrets',
    async () => {
      const state = await readRotationState(kc, namespace);
      return state.value === sha256(ROTATION.first) && state.apiKey
        ? { value: state.value, apiKey: state.apiKey }
        : undefined;
    },
    timeoutMs,
    250,
  );
}

/**
 * Rotates the remote secret and asks for a sync now (the force-sync annotation) rather than
 * waiting for the refresh interval. The lease rotates by itself: its credential lives
 * `credentialTtlSeconds` and is replaced at half of it.
 */
export async function rotate(emulator: Emulator, kc: KubeConfig, namespace: string): Promise<void> {
  emulator.rotateSecret(ROTATION.remoteSecret, { payload: ROTATION.second });
  await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject(
    {
      group: GROUP,
      version: VERSION,
      plural: PLURALS.ExternalSecret,
      namespace,
      name: ROTATION.externalSecret,
      body: { metadata: { annotations: { [ANNOTATIONS.forceSync]: String(Date.now()) } } },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

/** Both Secrets hold new data: the second value, and an API key other than `before`'s. */
export function waitForRotation(
  kc: KubeConfig,
  namespace: string,
  before: Required<RotationState>,
  timeoutMs = 90_000,
): Promise<Required<RotationState>> {
  return eventually(
    'the rotated Secrets',
    async () => {
      const state = await readRotationState(kc, namespace);
      return state.value === sha256(ROTATION.second) &&
        state.apiKey &&
        state.apiKey !== before.apiKey
        ? { value: state.value, apiKey: state.apiKey }
        : undefined;
    },
    timeoutMs,
    250,
  );
}
