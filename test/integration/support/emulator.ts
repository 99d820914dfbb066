// An in-process Secrets Manager emulator wired into the cluster: the API key Secret and a
// SecretStore (or ClusterSecretStore) pointing at the emulator, as a platform team would set up.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import type { StoreCondition } from '../../../src/api/store.ts';
import {
  type Emulator,
  type EmulatorOptions,
  loadSeedFile,
  type SeedData,
  startEmulator,
} from '../../../src/emulator/index.ts';
import { eventually, kubeConfig } from './cluster.ts';

export const SAMPLE_SEED_PATH = fileURLToPath(
  new URL('../../../src/emulator/sample-seed.yaml', import.meta.url),
);

/** The label test helpers put on ClusterSecretStores, so each test operator sees only its own. */
export const TEST_STORE_LABEL = 'secrets-manager.dev/test-run';

export interface TestEmulatorOptions extends Omit<EmulatorOptions, 'apiKeys' | 'seed'> {
  /** Where the store and its API key Secret go. */
  namespace: string;
  /** Default SecretStore. */
  storeKind?: 'SecretStore' | 'ClusterSecretStore';
  /** Default `sm` for a SecretStore, a unique `test-<random>` for a ClusterSecretStore. */
  storeName?: string;
  /** ClusterSecretStore `spec.conditions`. */
  conditions?: StoreCondition[];
  /** Default: the sample seed (every secret type). Pass `{}` for an empty instance. */
  seed?: SeedData;
  /** The Manager key the store authenticates with (default a random one). */
  apiKey?: string;
  /** Extra fields of `spec` (e.g. `rateLimit`). */
  storeSpec?: Record<string, unknown>;
  /** Extra fields of `spec.secretsManager` (e.g. `revocation`). */
  secretsManagerSpec?: Record<string, unknown>;
  /** Label value for TEST_STORE_LABEL on a ClusterSecretStore (default: the namespace). */
  testRun?: string;
}

export interface TestEmulator {
  emulator: Emulator;
  url: string;
  apiKey: string;
  namespace: string;
  /** The API key Secret (in `namespace`, key `apikey`). */
  secretName: string;
  store: { kind: 'SecretStore' | 'ClusterSecretStore'; name: string };
  /** `spec.storeRef` for resources that use this store. */
  storeRef: { kind: 'SecretStore' | 'ClusterSecretStore'; name: string };
  /** The label selector of the ClusterSecretStores this helper made for this test run. */
  testRunSelector: string;
  /** Resolves when the operator has reported the store Ready. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Deletes the store (and its Secret) and stops the emulator. */
  stop(): Promise<void>;
}

let sampleSeed: SeedData | undefined;

export async function loadSampleSeed(): Promise<SeedData> {
  sampleSeed ??= await loadSeedFile(SAMPLE_SEED_PATH);
  return structuredClone(sampleSeed);
}

export async function startTestEmulator(options: TestEmulatorOptions): Promise<TestEmulator> {
  const {
    namespace,
    storeKind = 'SecretStore',
    conditions,
    seed,
    storeSpec,
    secretsManagerSpec,
    ...emulatorOptions
  } = options;
  const apiKey = options.apiKey ?? `test-manager-${randomBytes(8).toString('hex')}`;
  const emulator = await startEmulator({
    ...emulatorOptions,
    apiKeys: [{ key: apiKey, role: 'Manager' }],
    seed: seed ?? (await loadSampleSeed()),
  });
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const secretName = `sm-api-key-${randomBytes(3).toString('hex')}`;
  await core.createNamespacedSecret({
    namespace,
    body: {
      metadata: { name: secretName, namespace },
      stringData: { apikey: apiKey },
    },
  });
  const name =
    options.storeName ??
    (storeKind === 'SecretStore' ? 'sm' : `test-${randomBytes(4).toString('hex')}`);
  const testRun = options.testRun ?? namespace;
  const secretRef =
    storeKind === 'SecretStore'
      ? { name: secretName, key: 'apikey' }
      : { name: secretName, key: 'apikey', namespace };
  const body = {
    apiVersion: API_VERSION,
    kind: storeKind,
    metadata: {
      name,
      ...(storeKind === 'SecretStore'
        ? { namespace }
        : { labels: { [TEST_STORE_LABEL]: testRun } }),
    },
    spec: {
      secretsManager: {
        url: emulator.url,
        iamUrl: emulator.url,
        auth: { apiKey: { secretRef } },
        ...secretsManagerSpec,
      },
      ...(conditions ? { conditions } : {}),
      ...storeSpec,
    },
  };
  await createStore(kc, storeKind, namespace, body);
  const store = { kind: storeKind, name };
  return {
    emulator,
    url: emulator.url,
    apiKey,
    namespace,
    secretName,
    store,
    storeRef: store,
    testRunSelector: `${TEST_STORE_LABEL}=${testRun}`,
    waitReady: (timeoutMs = 30_000) =>
      waitForStoreReady(
        kc,
        storeKind,
        storeKind === 'SecretStore' ? namespace : undefined,
        name,
        timeoutMs,
      ),
    async stop() {
      await deleteStore(kc, storeKind, namespace, name).catch(() => {});
      await emulator.stop();
    },
  };
}

export async function createStore(
  kc: KubeConfig,
  kind: 'SecretStore' | 'ClusterSecretStore',
  namespace: string,
  body: object,
): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, plural: PLURALS[kind], body };
  if (kind === 'SecretStore') await custom.createNamespacedCustomObject({ ...base, namespace });
  else await custom.createClusterCustomObject(base);
}

export async function deleteStore(
  kc: KubeConfig,
  kind: 'SecretStore' | 'ClusterSecretStore',
  namespace: string,
  name: string,
): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, plural: PLURALS[kind], name };
  if (kind === 'SecretStore') await custom.deleteNamespacedCustomObject({ ...base, namespace });
  else await custom.deleteClusterCustomObject(base);
}

interface ConditionLike {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

/** The store's Ready condition as the API server has it. */
export async function storeReadyCondition(
  kc: KubeConfig,
  kind: 'SecretStore' | 'ClusterSecretStore',
  namespace: string | undefined,
  name: string,
): Promise<ConditionLike | undefined> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const base = { group: GROUP, version: VERSION, plural: PLURALS[kind], name };
  const obj = (
    namespace
      ? await custom.getNamespacedCustomObject({ ...base, namespace })
      : await custom.getClusterCustomObject(base)
  ) as { status?: { conditions?: ConditionLike[] } };
  return obj.status?.conditions?.find((c) => c.type === 'Ready');
}

export async function waitForStoreReady(
  kc: KubeConfig,
  kind: 'SecretStore' | 'ClusterSecretStore',
  namespace: string | undefined,
  name: string,
  timeoutMs = 30_000,
): Promise<void> {
  await eventually(
    `${kind} ${name} Ready`,
    async () =>
      (await storeReadyCondition(kc, kind, namespace, name))?.status === 'True' ? true : undefined,
    timeoutMs,
  );
}
