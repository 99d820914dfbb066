// Small helpers for the ExternalSecret integration tests: create, read and patch resources and
// wait for their conditions on the real API server.
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
  type V1Secret,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import { eventually, kubeConfig } from '../support/cluster.ts';

export const kc = kubeConfig();
export const core = kc.makeApiClient(CoreV1Api);
export const apps = kc.makeApiClient(AppsV1Api);
const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const base = { group: GROUP, version: VERSION, plural: PLURALS.ExternalSecret };

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface ExternalSecretObject {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    observedGeneration?: number;
    refreshTime?: string;
    nextRefreshTime?: string;
    syncedDataHash?: string;
    secretName?: string;
  };
}

export async function createExternalSecret(
  namespace: string,
  name: string,
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = {},
): Promise<ExternalSecretObject> {
  return (await custom.createNamespacedCustomObject({
    ...base,
    namespace,
    body: {
      apiVersion: API_VERSION,
      kind: 'ExternalSecret',
      metadata: { name, ...metadata },
      spec,
    },
  })) as ExternalSecretObject;
}

export async function getExternalSecret(
  namespace: string,
  name: string,
): Promise<ExternalSecretObject | undefined> {
  try {
    return (await custom.getNamespacedCustomObject({
      ...base,
      namespace,
      name,
    })) as ExternalSecretObject;
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

export async function patchExternalSecret(
  namespace: string,
  name: string,
  body: Record<string, unknown>,
): Promise<ExternalSecretObject> {
  return (await custom.patchNamespacedCustomObject(
    { ...base, namespace, name, body },
    mergePatch,
  )) as ExternalSecretObject;
}

export async function deleteExternalSecret(namespace: string, name: string): Promise<void> {
  await custom.deleteNamespacedCustomObject({ ...base, namespace, name });
}

export function readyOf(es: ExternalSecretObject | undefined): Condition | undefined {
  return es?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** Waits until Ready has this reason for the current generation; returns the resource. */
export async function waitForReason(
  namespace: string,
  name: string,
  reason: string,
  timeoutMs = 30_000,
): Promise<ExternalSecretObject> {
  return eventually(
    `ExternalSecret ${namespace}/${name} to report ${reason}`,
    async () => {
      const es = await getExternalSecret(namespace, name);
      const ready = readyOf(es);
      return ready?.reason === reason && ready.observedGeneration === es?.metadata.generation
        ? es
        : undefined;
    },
    timeoutMs,
  );
}

export async function getSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

export function decoded(secret: V1Secret | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret?.data ?? {})) {
    out[k] = Buffer.from(v, 'base64').toString('utf8');
  }
  return out;
}

/** Waits for the Secret to exist and satisfy `check`; returns it. */
export async function waitForSecret(
  namespace: string,
  name: string,
  check: (data: Record<string, string>, secret: V1Secret) => boolean = () => true,
  timeoutMs = 30_000,
): Promise<V1Secret> {
  return eventually(
    `Secret ${namespace}/${name}`,
    async () => {
      const secret = await getSecret(namespace, name);
      return secret && check(decoded(secret), secret) ? secret : undefined;
    },
    timeoutMs,
  );
}

export async function eventReasons(namespace: string, involved: string): Promise<string[]> {
  const list = await core.listNamespacedEvent({ namespace });
  return list.items.filter((e) => e.involvedObject.name === involved).map((e) => e.reason ?? '');
}

/** The sample seed's fixed IDs and names (src/emulator/sample-seed.yaml). */
export const SEED = {
  teamAGroup: '5f1a3554-5f59-4164-8bfc-5eef0a20cf66',
  databaseUrl: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a01', name: 'database-url' },
  teamAToken: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a02', name: 'team-a-token' },
  appConfig: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a03', name: 'app-config' },
  teamASettings: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a04', name: 'team-a-settings' },
  smtp: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a05', name: 'smtp-credentials' },
  appTls: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a06', name: 'app-tls' },
  publicCert: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a07', name: 'www-example-com' },
  privateCert: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a08', name: 'orders-internal-tls' },
  serviceCredentials: {
    id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a09',
    name: 'event-notifications-writer',
  },
  iamNoReuse: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a0a', name: 'storage-bucket-writer' },
  iamReuse: { id: '0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a0b', name: 'reporting-reader' },
  smtpPassword: 'cloudy-rainy-coffee-book',
  databaseUrlValue: 'postgres://orders:s3cr3t-sample@db.example.internal:5432/orders',
} as const;
