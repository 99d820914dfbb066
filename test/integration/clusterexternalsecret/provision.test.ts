// ClusterExternalSecret on the real API server, with the operator and the emulator: it puts its
// ExternalSecret (and so the Secret) into every selected namespace, follows namespace labels
// both ways, never delivers where its ClusterSecretStore does not admit the namespace, never
// takes over an ExternalSecret it did not create, keeps its ExternalSecrets as templated, and
// deleting it deletes them (the garbage collector follows their owner references).
import { CustomObjectsApi, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { LABELS } from '../../../src/controllers/shared/constants.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import {
  core,
  createExternalSecret,
  decoded,
  getExternalSecret,
  getSecret,
  kc,
  patchExternalSecret,
  SEED,
  waitForSecret,
} from '../externalsecret/helpers.ts';
import { createNamespace, eventually } from '../support/cluster.ts';
import { startTestEmulator, TEST_STORE_LABEL, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const custom = kc.makeApiClient(CustomObjectsApi);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const base = { group: GROUP, version: VERSION, plural: PLURALS.ClusterExternalSecret };
const NAME_PREFIX = 'ces-provision';

interface Status {
  conditions?: Array<{ type: string; status: string; reason: string; message: string }>;
  observedGeneration?: number;
  provisionedNamespaces?: string[];
  failedNamespaces?: Array<{ namespace: string; reason: string; message?: string }>;
  externalSecretName?: string;
}
interface ClusterExternalSecretObject {
  metadata: { name: string; uid: string; generation: number };
  status?: Status;
}

let home: string;
/** Selected from the start. */
let first: string;
let second: string;
/** Labelled later. */
let late: string;
/** Selected, but the ClusterSecretStore does not admit it. */
let forbidden: string;
/** Selected, and holds an ExternalSecret of the same name that someone else made. */
let taken: string;
let sm: TestEmulator;
let operator: RunningOperator;
let name: string;
let selectorLabel: Record<string, string>;

const data = [{ secretKey: 'url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }];

async function getCes(): Promise<ClusterExternalSecretObject | undefined> {
  try {
    return (await custom.getClusterCustomObject({ ...base, name })) as ClusterExternalSecretObject;
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

/** Waits until the status, for the current generation, satisfies `check`. */
async function waitForStatus(what: string, check: (status: Status) => boolean): Promise<Status> {
  return eventually(
    `ClusterExternalSecret ${name}: ${what}`,
    async () => {
      const ces = await getCes();
      const status = ces?.status;
      return status && status.observedGeneration === ces.metadata.generation && check(status)
        ? status
        : undefined;
    },
    30_000,
  );
}

async function label(namespace: string, labels: Record<string, string | null>): Promise<void> {
  await core.patchNamespace({ name: namespace, body: { metadata: { labels } } }, mergePatch);
}

beforeAll(async () => {
  home = await createNamespace('ces-home');
  selectorLabel = { 'secrets-manager.dev/ces-test': home };
  first = await createNamespace('ces-first', selectorLabel);
  second = await createNamespace('ces-second', selectorLabel);
  late = await createNamespace('ces-late');
  forbidden = await createNamespace('ces-forbidden', selectorLabel);
  taken = await createNamespace('ces-taken', selectorLabel);
  sm = await startTestEmulator({
    namespace: home,
    storeKind: 'ClusterSecretStore',
    conditions: [{ namespaces: [home, first, second, late, taken] }],
  });
  name = `${NAME_PREFIX}-${home.slice(-6)}`;
  // Someone else's ExternalSecret, of the name the ClusterExternalSecret will use.
  await createExternalSecret(taken, name, {
    storeRef: sm.storeRef,
    data: [{ secretKey: 'mine', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }],
  });
  operator = await startOperator({
    namespaces: [home, first, second, late, forbidden, taken],
  });
  await sm.waitReady();
  await custom.createClusterCustomObject({
    ...base,
    body: {
      apiVersion: API_VERSION,
      kind: 'ClusterExternalSecret',
      metadata: { name, labels: { [TEST_STORE_LABEL]: home } },
      spec: {
        namespaceSelectors: [{ matchLabels: selectorLabel }],
        refreshTime: '10s',
        externalSecretMetadata: { labels: { app: 'ca' } },
        externalSecretSpec: { storeRef: sm.storeRef, data },
      },
    },
  });
});

afterAll(async () => {
  await custom.deleteClusterCustomObject({ ...base, name }).catch(() => undefined);
  await operator?.stop();
  await sm?.stop();
});

describe('a ClusterExternalSecret with a namespaceSelector', () => {
  it('delivers the Secret to every selected namespace the store admits', async () => {
    for (const namespace of [first, second]) {
      const secret = await waitForSecret(namespace, name);
      expect(decoded(secret).url).toBe(SEED.databaseUrlValue);
      const es = await getExternalSecret(namespace, name);
      const ces = await getCes();
      expect(es?.metadata).toMatchObject({
        labels: { app: 'ca', [LABELS.clusterExternalSecret]: name },
        ownerReferences: [
          { kind: 'ClusterExternalSecret', name, uid: ces?.metadata.uid, controller: true },
        ],
      });
    }
    const status = await waitForStatus('both provisioned', (s) =>
      [first, second].every((n) => s.provisionedNamespaces?.includes(n)),
    );
    expect(status.externalSecretName).toBe(name);
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'PartiallyProvisioned',
    });
  });

  it('gives a namespace the store does not admit nothing, and says why', async () => {
    const status = await waitForStatus('forbidden reported', (s) =>
      Boolean(s.failedNamespaces?.some((f) => f.namespace === forbidden)),
    );
    expect(status.failedNamespaces).toContainEqual({
      namespace: forbidden,
      reason: 'StoreForbidsNamespace',
      message: expect.stringContaining(`does not admit namespace ${forbidden}`),
    });
    expect(status.provisionedNamespaces).not.toContain(forbidden);
    expect(await getExternalSecret(forbidden, name)).toBeUndefined();
    expect(await getSecret(forbidden, name)).toBeUndefined();
  });

  it('leaves an ExternalSecret of the same name it did not create alone, and says so', async () => {
    const status = await waitForStatus('taken reported', (s) =>
      Boolean(s.failedNamespaces?.some((f) => f.namespace === taken)),
    );
    expect(status.failedNamespaces).toContainEqual(
      expect.objectContaining({ namespace: taken, reason: 'NotOwned' }),
    );
    const theirs = await getExternalSecret(taken, name);
    expect(theirs?.spec.data).toEqual([
      { secretKey: 'mine', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } },
    ]);
    expect(theirs).toBeDefined();
    expect((theirs?.metadata as { ownerReferences?: unknown } | undefined)?.ownerReferences).toBe(
      undefined,
    );
    const secret = await waitForSecret(taken, name);
    expect(Object.keys(decoded(secret))).toEqual(['mine']);
  });

  it('gives a namespace labelled later its ExternalSecret and Secret', async () => {
    expect(await getExternalSecret(late, name)).toBeUndefined();
    await label(late, selectorLabel);
    const secret = await waitForSecret(late, name);
    expect(decoded(secret).url).toBe(SEED.databaseUrlValue);
    await waitForStatus('late provisioned', (s) =>
      Boolean(s.provisionedNamespaces?.includes(late)),
    );
  });

  it('takes the ExternalSecret (and its Secret) from a namespace whose label is removed', async () => {
    await label(second, { 'secrets-manager.dev/ces-test': null });
    await eventually(`ExternalSecret ${second}/${name} deleted`, async () =>
      (await getExternalSecret(second, name)) ? undefined : true,
    );
    // The Secret is owned by the ExternalSecret (creationPolicy Owner): the garbage collector.
    await eventually(`Secret ${second}/${name} deleted`, async () =>
      (await getSecret(second, name)) ? undefined : true,
    );
    await waitForStatus('second no longer provisioned', (s) =>
      Boolean(!s.provisionedNamespaces?.includes(second)),
    );
  });

  it('puts back an ExternalSecret edited by hand, and applies a changed template everywhere', async () => {
    await patchExternalSecret(first, name, { spec: { refreshInterval: '5m' } });
    await eventually('the edit reverted', async () => {
      const es = await getExternalSecret(first, name);
      return es && es.spec.refreshInterval === undefined ? true : undefined;
    });
    await custom.patchClusterCustomObject(
      {
        ...base,
        name,
        body: {
          spec: {
            externalSecretSpec: {
              data: [{ ...data[0], secretKey: 'DATABASE_URL' }],
            },
          },
        },
      },
      mergePatch,
    );
    for (const namespace of [first, late]) {
      await waitForSecret(namespace, name, (d) => d.DATABASE_URL === SEED.databaseUrlValue);
    }
  });

  it('deletes every ExternalSecret it made when it is deleted, and no other', async () => {
    await custom.deleteClusterCustomObject({ ...base, name });
    for (const namespace of [first, late]) {
      await eventually(
        `ExternalSecret ${namespace}/${name} deleted`,
        async () => ((await getExternalSecret(namespace, name)) ? undefined : true),
        60_000,
      );
    }
    expect(await getExternalSecret(taken, name)).toBeDefined();
  });
});
