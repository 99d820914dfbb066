import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { LABELS } from '../shared/constants.ts';
import { FakeInformer } from '../shared/testing/informer.ts';
import { apiError, FakeEvents, FakeResources } from '../shared/testing/kube.ts';
import { ownerRefOf, type Template } from './plan.ts';
import { ClusterExternalSecretReconciler } from './reconciler.ts';
import type { ExternalSecretMeta, ExternalSecretWrites } from './writes.ts';

const CES_UID = 'ces-uid';

/** The API server side of ExternalSecrets: what exists, what was written. */
class FakeWrites implements ExternalSecretWrites {
  readonly existing = new Map<string, ExternalSecretMeta>();
  readonly log: string[] = [];
  failCreateIn = new Set<string>();

  async create(namespace: string, template: Template, owner: ReturnType<typeof ownerRefOf>) {
    if (this.failCreateIn.has(namespace)) throw apiError(403, 'externalsecrets is forbidden');
    const id = `${namespace}/${template.name}`;
    if (this.existing.has(id)) return false;
    this.existing.set(id, {
      metadata: { name: template.name, namespace, ownerReferences: [owner] },
    });
    this.log.push(`create ${id}`);
    return true;
  }

  async update(namespace: string, template: Template) {
    this.log.push(`update ${namespace}/${template.name}`);
  }

  async delete(namespace: string, name: string) {
    this.existing.delete(`${namespace}/${name}`);
    this.log.push(`delete ${namespace}/${name}`);
  }

  async get(namespace: string, name: string) {
    return this.existing.get(`${namespace}/${name}`);
  }
}

const ces: KubeObject = {
  apiVersion: API_VERSION,
  kind: 'ClusterExternalSecret',
  metadata: { name: 'ca', uid: CES_UID, generation: 2 },
  spec: {
    namespaceSelectors: [{ matchLabels: { team: 'a' } }],
    externalSecretSpec: {
      storeRef: { kind: 'ClusterSecretStore', name: 'shared' },
      data: [{ secretKey: 'ca.crt', remoteRef: { type: 'arbitrary', name: 'ca' } }],
    },
  },
};

function setup(options: { watch?: string[] } = {}) {
  const resources = new FakeResources();
  resources.put('ClusterExternalSecret', ces);
  const clusterExternalSecrets = new FakeInformer();
  clusterExternalSecrets.put(resources.get('ClusterExternalSecret', undefined, 'ca') as KubeObject);
  const namespaces = new FakeInformer();
  const owned = new FakeInformer();
  const stores = new Map<string, KubeObject>();
  const writes = new FakeWrites();
  const events = new FakeEvents();
  const reconciler = new ClusterExternalSecretReconciler({
    clusterExternalSecrets: clusterExternalSecrets.informer,
    ownedExternalSecrets: owned.informer,
    namespaces: namespaces.informer,
    watchNamespaces: options.watch ?? [],
    stores: { getObject: (key) => stores.get(key.name) },
    writes,
    resources,
    events,
    clock: new FakeClock(Date.UTC(2026, 0, 1)),
  });
  const namespace = (name: string, labels: Record<string, string> = { team: 'a' }) =>
    namespaces.put({ metadata: { name, labels } });
  const run = () =>
    reconciler.reconcile(
      { name: 'ca' },
      { log: createLogger({ level: 'silent' }), signal: new AbortController().signal },
    );
  const status = () =>
    resources.get('ClusterExternalSecret', undefined, 'ca')?.status as Record<string, unknown>;
  return { writes, events, namespace, owned, stores, run, status };
}

describe('ClusterExternalSecretReconciler', () => {
  it('creates in selected namespaces, reports them, and looks again at refreshTime', async () => {
    const t = setup();
    t.namespace('b');
    t.namespace('a');
    t.namespace('other', { team: 'x' });
    const result = await t.run();
    expect(t.writes.log).toEqual(['create a/ca', 'create b/ca']);
    expect(t.status()).toMatchObject({
      provisionedNamespaces: ['a', 'b'],
      externalSecretName: 'ca',
      observedGeneration: 2,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Provisioned' }],
    });
    expect(t.events.reasons()).toContain('ExternalSecretsCreated');
    expect(result).toEqual({ requeueAfterMs: 60_000 });
  });

  it('only considers the namespaces the operator watches', async () => {
    const t = setup({ watch: ['a'] });
    t.namespace('a');
    t.namespace('b');
    await t.run();
    expect(t.writes.log).toEqual(['create a/ca']);
  });

  it('reports an ExternalSecret someone else made (found on create) as NotOwned and leaves it', async () => {
    const t = setup();
    t.namespace('a');
    t.writes.existing.set('a/ca', { metadata: { name: 'ca', namespace: 'a' } });
    await t.run();
    expect(t.writes.log).toEqual([]);
    expect(t.status()).toMatchObject({
      failedNamespaces: [{ namespace: 'a', reason: 'NotOwned' }],
      conditions: [{ status: 'False', reason: 'ProvisioningFailed' }],
    });
  });

  it('counts its own ExternalSecret that the cache has not seen yet as provisioned', async () => {
    const t = setup();
    t.namespace('a');
    t.writes.existing.set('a/ca', {
      metadata: { name: 'ca', namespace: 'a', ownerReferences: [ownerRefOf(ces as never)] },
    });
    await t.run();
    expect(t.writes.log).toEqual([]);
    expect(t.status()).toMatchObject({ provisionedNamespaces: ['a'] });
    expect(t.status().failedNamespaces).toBeUndefined();
  });

  it('reports a refused write per namespace and still provisions the others', async () => {
    const t = setup();
    t.namespace('a');
    t.namespace('b');
    t.writes.failCreateIn.add('b');
    await t.run();
    expect(t.status()).toMatchObject({
      provisionedNamespaces: ['a'],
      failedNamespaces: [
        { namespace: 'b', reason: 'WriteFailed', message: expect.stringContaining('HTTP 403') },
      ],
      conditions: [{ status: 'False', reason: 'PartiallyProvisioned' }],
    });
  });

  it("applies the ClusterSecretStore's conditions, and deletes what a namespace should no longer have", async () => {
    const t = setup();
    t.stores.set('shared', {
      apiVersion: API_VERSION,
      kind: 'ClusterSecretStore',
      metadata: { name: 'shared' },
      spec: {
        secretsManager: {
          url: 'https://sm.example',
          auth: { apiKey: { secretRef: { name: 'k', key: 'k', namespace: 'ops' } } },
        },
        conditions: [{ namespaces: ['a'] }],
      },
    });
    t.namespace('a');
    t.namespace('b');
    t.owned.put({
      apiVersion: API_VERSION,
      kind: 'ExternalSecret',
      metadata: {
        name: 'ca',
        namespace: 'b',
        uid: 'es-b',
        labels: { [LABELS.clusterExternalSecret]: 'ca' },
        ownerReferences: [ownerRefOf(ces as never)],
      },
      spec: (ces.spec as { externalSecretSpec: unknown }).externalSecretSpec,
    });
    await t.run();
    expect(t.writes.log).toEqual(['create a/ca', 'delete b/ca']);
    expect(t.status()).toMatchObject({
      provisionedNamespaces: ['a'],
      failedNamespaces: [{ namespace: 'b', reason: 'StoreForbidsNamespace' }],
    });
    expect(t.events.reasons()).toContain('ExternalSecretsDeleted');
  });
});
