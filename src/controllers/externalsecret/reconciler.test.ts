import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { API_VERSION, type Condition, toRfc3339 } from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import {
  type RemoteSecret,
  type SecretRef,
  SecretsManagerError,
} from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { ANNOTATIONS, FINALIZERS, LABELS, MANAGED_BY_VALUE } from '../shared/constants.ts';
import { fixedHashKey } from '../shared/hashkey.ts';
import { decodeData } from '../shared/secrets.ts';
import { FakeInformer } from '../shared/testing/informer.ts';
import { FakeEvents, FakeResources, FakeRollout, FakeSecrets } from '../shared/testing/kube.ts';
import type { ResolveResult } from '../store/registry.ts';
import { RemoteView } from '../store/view.ts';
import { detachedRemoteViewMetrics } from '../store/view-metrics.ts';
import { createExternalSecretMetrics } from './metrics.ts';
import { ExternalSecretReconciler } from './reconciler.ts';

const KIND = 'ExternalSecret';
const NS = 'team-a';
const T0 = Date.UTC(2026, 0, 1, 12);
const log = createLogger({ level: 'silent' });

const remote = (payload: string): RemoteSecret => ({
  type: 'arbitrary',
  metadata: { id: 'a1', name: 'db-password', type: 'arbitrary', groupId: 'default', labels: [] },
  payload,
});

const READY_STORE: ResolveResult = {
  ok: false,
  reason: 'StoreNotReady',
  message: 'replaced in setup',
};

/** A client that aborts the reconcile while its read is in flight. */
class AbortingClient extends FakeSecretsManagerClient {
  abort: (() => void) | undefined;
  /** What the store's rate limiter would make a new request wait (ms). */
  backlogMs = 0;

  override async getSecret(ref: SecretRef): Promise<RemoteSecret> {
    this.abort?.();
    return super.getSecret(ref);
  }
}

function setup(options: { wake?: boolean } = {}) {
  const clock = new FakeClock(T0);
  const woken: unknown[] = [];
  const externalSecrets = new FakeInformer();
  const managedSecrets = new FakeInformer();
  const core = new FakeSecrets().mirror(managedSecrets);
  const resources = new FakeResources();
  const events = new FakeEvents();
  const rollout = new FakeRollout([`Deployment/${NS}/web`]);
  const sm = new AbortingClient(() => clock.now()).put(remote('s3cret'));
  let store: ResolveResult = {
    ok: true,
    client: sm,
    store: {
      kind: 'ClusterSecretStore',
      name: 'default',
      uid: 'store-uid',
      generation: 1,
      url: 'https://sm.example',
      revocation: 'auto',
      pollIntervalMs: 0,
    },
  };
  const rechecks: unknown[] = [];
  const reconciler = new ExternalSecretReconciler({
    externalSecrets: externalSecrets.informer,
    managedSecrets: managedSecrets.informer,
    stores: {
      resolve: () => store,
      requestRecheck: (key) => rechecks.push(key),
      track: (view, id, sources, finds, synced) => view.track(id, sources, finds, synced),
      release: () => {},
    },
    core,
    resources,
    events,
    hashKey: fixedHashKey('0123456789abcdef0123456789abcdef'),
    rollout,
    clock,
    metrics: createExternalSecretMetrics(new Registry()),
    refreshSlots: 2,
    random: () => 0,
    configMaps: { read: async () => undefined, cachedVersion: () => undefined },
    ...(options.wake ? { wake: (key: unknown) => woken.push(key) } : {}),
  });
  /** The watch catching up: the cache gets the object as the API server has it. */
  const catchUp = () => {
    const obj = resources.get(KIND, NS, 'db');
    if (obj) externalSecrets.put(obj);
    else externalSecrets.remove(NS, 'db');
  };
  const t = {
    reconciler,
    clock,
    core,
    managedSecrets,
    resources,
    events,
    rollout,
    sm,
    rechecks,
    woken,
    catchUp,
    setStore: (s: ResolveResult) => {
      store = s;
    },
    readyStore: store,
    create(spec: Record<string, unknown>): void {
      resources.put(KIND, {
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name: 'db', namespace: NS, uid: 'uid-db', generation: 1 },
        spec: {
          data: [{ secretKey: 'password', remoteRef: { type: 'arbitrary', name: 'db-password' } }],
          ...spec,
        },
      } as KubeObject);
      catchUp();
    },
    reconcile: (signal: AbortSignal = new AbortController().signal) =>
      reconciler.reconcile({ namespace: NS, name: 'db' }, { log, signal }),
    status: () =>
      (resources.get(KIND, NS, 'db') as { status?: Record<string, unknown> } | undefined)?.status,
    ready: () => ((t.status()?.conditions ?? []) as Condition[]).find((c) => c.type === 'Ready'),
    secretData: () => decodeData(core.get(NS, 'db')?.data),
    smReads: () => sm.calls.filter((c) => c.method === 'getSecret').length,
  };
  return t;
}

type T = ReturnType<typeof setup>;

/** The first sync, the watch catching up, and the clock moved to the next refresh. */
async function synced(t: T, spec: Record<string, unknown> = {}) {
  t.create(spec);
  const first = await t.reconcile();
  t.catchUp();
  return first;
}

describe('ExternalSecretReconciler', () => {
  it('first sync writes the Secret, reports Ready Synced and comes back at the next refresh', async () => {
    const t = setup();
    t.create({});
    const result = await t.reconcile();
    expect(t.secretData()).toEqual({ password: 's3cret' });
    const secret = t.core.get(NS, 'db');
    expect(secret?.metadata?.ownerReferences).toMatchObject([{ uid: 'uid-db', controller: true }]);
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Synced', observedGeneration: 1 });
    expect(t.status()).toMatchObject({
      secretName: 'db',
      refreshTime: toRfc3339(new Date(T0)),
      syncedDataHash: expect.stringMatching(/^hmac-sha256:/),
    });
    expect(t.events.recorded).toEqual([
      expect.objectContaining({ type: 'Normal', reason: 'Synced' }),
    ]);
    // nextRefreshTime is stored to the second; the requeue is to the millisecond.
    const next = Date.parse(t.status()?.nextRefreshTime as string);
    expect(result?.requeueAfterMs).toBeGreaterThanOrEqual(next - T0);
    expect(result?.requeueAfterMs).toBeLessThan(next - T0 + 1_000);
    expect(next - T0).toBeGreaterThan(54 * 60_000);
    expect(next - T0).toBeLessThanOrEqual(60 * 60_000);
  });

  it('a second reconcile with nothing changed writes nothing and reads nothing remote', async () => {
    const t = setup();
    await synced(t);
    const before = {
      secrets: [...t.core.writes],
      status: t.resources.writes.length,
      reads: t.core.reads,
    };
    const result = await t.reconcile();
    expect(result?.requeueAfterMs).toBeGreaterThan(54 * 60_000);
    expect(t.core.writes).toEqual(before.secrets);
    expect(t.resources.writes).toHaveLength(before.status);
    expect(t.core.reads).toBe(before.reads);
    expect(t.smReads()).toBe(1);
  });

  it("recognises the watch event of its own Secret write, and no one else's change", async () => {
    const t = setup();
    await synced(t);
    const key = { namespace: NS, name: 'db' };
    const written = t.core.get(NS, 'db') as unknown as KubeObject;
    expect(t.reconciler.isOwnSecretEcho(key, written)).toBe(true);
    expect(t.reconciler.isOwnSecretEcho({ namespace: NS, name: 'other' }, written)).toBe(false);
    const edited = { ...written, metadata: { ...written.metadata, resourceVersion: '1' } };
    expect(t.reconciler.isOwnSecretEcho(key, edited)).toBe(false);
  });

  it('recognises its own Secret write when the watch event comes before the answer', async () => {
    const t = setup();
    const key = { namespace: NS, name: 'db' };
    const seen: boolean[] = [];
    const apply = t.core.patchNamespacedSecret.bind(t.core);
    t.core.patchNamespacedSecret = async (req) => {
      const stored = await apply(req);
      // The event of this write, handled before the writer has the answer.
      const event = t.core.get(NS, 'db') as unknown as KubeObject;
      seen.push(t.reconciler.isOwnSecretEcho(key, event));
      const annotations = { ...event.metadata.annotations, [ANNOTATIONS.dataHash]: 'other' };
      seen.push(
        t.reconciler.isOwnSecretEcho(key, {
          ...event,
          metadata: { ...event.metadata, annotations },
        }),
      );
      return stored;
    };
    await synced(t);
    expect(seen).toEqual([true, false]);
  });

  it('right after its own status write (cache still old) it does not sync again', async () => {
    const t = setup();
    t.create({});
    await t.reconcile();
    // No catchUp: the cache still holds the object without status.
    const writes = t.resources.writes.length;
    await t.reconcile();
    expect(t.smReads()).toBe(1);
    expect(t.core.writes).toEqual([`apply ${NS}/db`]);
    expect(t.resources.writes).toHaveLength(writes);
  });

  it('a rotated remote value updates the Secret and restarts the workloads', async () => {
    const t = setup();
    const first = await synced(t, { rolloutRestartTargets: [{ kind: 'Deployment', name: 'web' }] });
    expect(t.rollout.patched).toEqual([]);
    t.sm.put(remote('rotated'));
    await t.clock.advance(first?.requeueAfterMs ?? 0);
    await t.reconcile();
    expect(t.secretData()).toEqual({ password: 'rotated' });
    expect(t.rollout.patched).toEqual([`Deployment/${NS}/web`]);
    expect(t.events.reasons()).toEqual(['Synced', 'Updated', 'RolloutRestarted']);
    expect(t.status()?.refreshTime).toBe(toRfc3339(new Date(t.clock.now())));
  });

  it('a failed read keeps the Secret, reports SyncError and throws for backoff', async () => {
    const t = setup();
    const first = await synced(t);
    const hash = t.status()?.syncedDataHash;
    t.sm.put(remote('rotated'));
    t.sm.failNext('getSecret', new SecretsManagerError('Unavailable', 'get_secret: HTTP 503'));
    await t.clock.advance(first?.requeueAfterMs ?? 0);
    await expect(t.reconcile()).rejects.toMatchObject({ code: 'Unavailable' });
    expect(t.secretData()).toEqual({ password: 's3cret' });
    expect(t.core.writes).toEqual([`apply ${NS}/db`]);
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'SyncError' });
    expect(t.status()?.syncedDataHash).toBe(hash);
    expect(t.events.recorded.at(-1)).toMatchObject({ type: 'Warning', reason: 'SyncError' });
  });

  it('a deleted remote secret with deletionPolicy Delete removes the Secret', async () => {
    const t = setup();
    const first = await synced(t, { target: { deletionPolicy: 'Delete' } });
    t.sm.remove('arbitrary', 'a1');
    await t.clock.advance(first?.requeueAfterMs ?? 0);
    const result = await t.reconcile();
    expect(t.core.get(NS, 'db')).toBeUndefined();
    expect(t.core.writes).toEqual([`apply ${NS}/db`, `delete ${NS}/db`]);
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'RemoteSecretNotFound' });
    expect(t.ready()?.message).toContain('deleted Secret db');
    expect(t.status()?.syncedDataHash).toBeUndefined();
    expect(result?.requeueAfterMs).toBeGreaterThan(0);
  });

  it('refuses a Secret of the same name that someone else created, and then looks before reading remote', async () => {
    const t = setup();
    t.core.put({ metadata: { name: 'db', namespace: NS }, data: { theirs: 'eA==' } });
    const writes = [...t.core.writes];
    t.create({});
    // Not in the cache (not ours): presumed absent, written create-only, refused, then read.
    const result = await t.reconcile();
    expect(t.core.refused).toEqual([`apply ${NS}/db`]);
    expect(t.core.reads).toBe(1);
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'TargetConflict' });
    expect(t.core.writes).toEqual(writes);
    expect(t.core.get(NS, 'db')?.data).toEqual({ theirs: 'eA==' });
    // The retry looks first: no remote read and no refused write while the conflict lasts.
    t.catchUp();
    const reads = t.smReads();
    await t.clock.advance(result?.requeueAfterMs ?? 0);
    await t.reconcile();
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'TargetConflict' });
    expect(t.core.refused).toHaveLength(1);
    expect(t.core.reads).toBe(2);
    expect(t.smReads()).toBe(reads);
    expect(t.core.get(NS, 'db')?.data).toEqual({ theirs: 'eA==' });
  });

  it('creates a new target without reading it: one create-only write', async () => {
    const t = setup();
    t.create({});
    await t.reconcile();
    expect(t.core.reads).toBe(0);
    expect(t.core.refused).toEqual([]);
    expect(t.core.writes).toEqual([`apply ${NS}/db`]);
    expect(t.secretData()).toEqual({ password: 's3cret' });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  it('a Secret of its own that the cache does not show yet is read after the refused create and written', async () => {
    const t = setup();
    t.core.put({
      metadata: {
        name: 'db',
        namespace: NS,
        labels: { [LABELS.managedBy]: MANAGED_BY_VALUE },
        ownerReferences: [
          { apiVersion: API_VERSION, kind: KIND, name: 'db', uid: 'uid-db', controller: true },
        ],
      },
      data: { password: Buffer.from('old').toString('base64') },
    });
    t.managedSecrets.remove(NS, 'db');
    t.create({});
    await t.reconcile();
    expect(t.core.refused).toEqual([`apply ${NS}/db`]);
    expect(t.core.reads).toBe(1);
    expect(t.secretData()).toEqual({ password: 's3cret' });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  it('an invalid spec is reported as InvalidSpec without a call to Secrets Manager', async () => {
    const t = setup();
    t.create({
      data: [{ secretKey: 'password', remoteRef: { type: 'arbitrary', id: 'a1', name: 'both' } }],
    });
    expect(await t.reconcile()).toBeUndefined();
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
    expect(t.sm.calls).toEqual([]);
    expect(t.core.writes).toEqual([]);
  });

  it('waits for the verdict on a store not validated yet, touching nothing', async () => {
    const t = setup();
    t.setStore({ ...READY_STORE, pending: true });
    t.create({});
    // No timer: the store's first verdict (ready or not) enqueues every resource using it.
    expect(await t.reconcile()).toBeUndefined();
    expect(t.resources.writes).toEqual([]);
    expect(t.core.writes).toEqual([]);
    expect(t.sm.calls).toEqual([]);
    t.setStore(t.readyStore);
    expect(await t.reconcile()).toMatchObject({ requeueAfterMs: expect.any(Number) });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Synced' });
  });

  it('on deletion removes the Secret, then the finalizer', async () => {
    const t = setup();
    await synced(t, { target: { creationPolicy: 'Orphan', deletionPolicy: 'Delete' } });
    expect(t.resources.get(KIND, NS, 'db')?.metadata.finalizers).toEqual([
      FINALIZERS.ExternalSecret,
    ]);
    t.resources.delete(KIND, NS, 'db', toRfc3339(new Date(t.clock.now())));
    t.catchUp();
    expect(await t.reconcile()).toBeUndefined();
    expect(t.core.get(NS, 'db')).toBeUndefined();
    expect(t.resources.get(KIND, NS, 'db')).toBeUndefined();
    expect(t.resources.writes.at(-1)).toMatchObject({ op: 'setFinalizers', body: [] });
  });

  it('a cancelled reconcile writes no Secret and no status', async () => {
    const t = setup();
    t.create({});
    const aborted = new AbortController();
    aborted.abort(new Error('lost leadership'));
    await expect(t.reconcile(aborted.signal)).rejects.toThrow('lost leadership');
    expect(t.core.writes).toEqual([]);
    expect(t.resources.writes).toEqual([]);
  });

  it('a reconcile cancelled while it reads Secrets Manager writes nothing after', async () => {
    const t = setup();
    t.create({});
    const controller = new AbortController();
    t.sm.abort = () => controller.abort(new Error('shutting down'));
    await expect(t.reconcile(controller.signal)).rejects.toThrow('shutting down');
    expect(t.core.writes).toEqual([]);
    expect(t.resources.writes).toEqual([]);
  });

  it('a deletion cancelled before it starts deletes no Secret and keeps the finalizer', async () => {
    const t = setup();
    await synced(t, { target: { creationPolicy: 'Orphan', deletionPolicy: 'Delete' } });
    t.resources.delete(KIND, NS, 'db', toRfc3339(new Date(t.clock.now())));
    t.catchUp();
    const writes = { secrets: [...t.core.writes], resources: t.resources.writes.length };
    const aborted = new AbortController();
    aborted.abort(new Error('lost leadership'));
    await expect(t.reconcile(aborted.signal)).rejects.toThrow('lost leadership');
    expect(t.core.writes).toEqual(writes.secrets);
    expect(t.resources.writes).toHaveLength(writes.resources);
    expect(t.core.get(NS, 'db')).toBeDefined();
  });

  it('a cancelled reconcile adds no finalizer', async () => {
    const t = setup();
    t.create({ target: { creationPolicy: 'Orphan', deletionPolicy: 'Delete' } });
    const aborted = new AbortController();
    aborted.abort(new Error('lost leadership'));
    await expect(t.reconcile(aborted.signal)).rejects.toThrow('lost leadership');
    expect(t.resources.writes).toEqual([]);
  });
});

describe('ExternalSecretReconciler with the store view', () => {
  /** The store resolves with a view polling every minute; `onChange` gets what a poll flags. */
  function withView(t: T, onChange: (resources: string[]) => void = () => {}) {
    const view = new RemoteView({
      client: t.sm,
      clock: t.clock,
      pollIntervalMs: 60_000,
      store: 'ClusterSecretStore/default',
      metrics: detachedRemoteViewMetrics(),
      log,
      onChange,
    });
    const ready = t.readyStore as Extract<ResolveResult, { ok: true }>;
    t.setStore({ ...ready, view, store: { ...ready.store, pollIntervalMs: 60_000 } });
    return view;
  }

  /** Synced from one read; the target, not in the cache, created create-only without a read. */
  function expectCreatedFromOneRead(t: T) {
    t.catchUp();
    expect(t.secretData()).toEqual({ password: 's3cret' });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Synced' });
    expect(t.smReads()).toBe(1);
    expect(t.core.reads).toBe(0);
    expect(t.core.refused).toEqual([]);
  }

  it('a backlogged first sync whose values are not read yet frees its worker and is woken when they are', async () => {
    const t = setup({ wake: true });
    withView(t);
    t.sm.backlogMs = 5_000;
    t.create({});
    expect(await t.reconcile()).toBeUndefined();
    // Nothing written yet: the read goes on in the view. Nor is the target read.
    expect(t.core.writes).toEqual([]);
    expect(t.resources.writes).toEqual([]);
    expect(t.core.reads).toBe(0);
    await t.clock.advance(0);
    expect(t.woken).toEqual([{ namespace: NS, name: 'db' }]);
    expect(t.smReads()).toBe(1);
    // Woken: syncs from the view without another read, and creates the target without a read.
    await t.reconcile();
    expectCreatedFromOneRead(t);
  });

  it('not backlogged, a first sync reads its values in its worker and writes in the same pass', async () => {
    const t = setup({ wake: true });
    withView(t);
    t.create({});
    await t.reconcile();
    expect(t.woken).toEqual([]);
    expectCreatedFromOneRead(t);
  });

  it('a backlogged first sync still refuses a Secret someone else owns, in the pass that would write', async () => {
    const t = setup({ wake: true });
    withView(t);
    t.sm.backlogMs = 5_000;
    t.core.put({ metadata: { name: 'db', namespace: NS }, data: { theirs: 'eA==' } });
    t.create({});
    expect(await t.reconcile()).toBeUndefined();
    await t.clock.advance(0);
    await t.reconcile();
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'TargetConflict' });
    expect(t.core.writes).toEqual([]);
    expect(t.core.get(NS, 'db')?.data).toEqual({ theirs: 'eA==' });
  });

  it('a read that failed ahead of the sync is read once more by the sync, which reports it', async () => {
    const t = setup({ wake: true });
    withView(t);
    t.sm.backlogMs = 5_000;
    t.create({
      data: [{ secretKey: 'password', remoteRef: { type: 'arbitrary', id: 'no-such-id' } }],
    });
    expect(await t.reconcile()).toBeUndefined();
    await t.clock.advance(0);
    expect(t.woken).toHaveLength(1);
    // The woken pass does not warm again (no loop): it reads, fails and says so.
    await t.reconcile();
    expect(t.woken).toHaveLength(1);
    expect(t.smReads()).toBe(2);
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'RemoteSecretNotFound' });
  });

  it('re-syncs a Ready resource only when its source moved in the lists, with one read', async () => {
    const t = setup();
    const dated = (payload: string, updatedAt: string): RemoteSecret => ({
      type: 'arbitrary',
      metadata: {
        id: 'a1',
        name: 'db-password',
        type: 'arbitrary',
        groupId: 'default',
        labels: [],
        updatedAt,
      },
      payload,
    });
    t.sm.put(dated('s3cret', '2026-01-01T00:00:00Z'));
    const changed: string[] = [];
    const view = withView(t, (resources) => changed.push(...resources));
    await synced(t);
    expect(t.status()?.sources).toEqual([
      { type: 'arbitrary', id: 'a1', lastUpdateDate: '2026-01-01T00:00:00Z' },
    ]);
    const reads = t.smReads();
    // Nothing moved: a poll flags nothing and a reconcile neither reads nor writes.
    await view.poll();
    await t.reconcile();
    expect(changed).toEqual([]);
    expect(t.smReads()).toBe(reads);
    t.sm.put(dated('rotated', '2026-01-01T00:10:00Z'));
    await view.poll();
    expect(changed).toEqual([`${NS}/db`]);
    await t.reconcile();
    t.catchUp();
    expect(t.secretData()).toEqual({ password: 'rotated' });
    expect(t.smReads()).toBe(reads + 1);
    expect(t.status()?.sources).toEqual([
      { type: 'arbitrary', id: 'a1', lastUpdateDate: '2026-01-01T00:10:00Z' },
    ]);
    // Synced: no longer flagged.
    expect(view.changed(`${NS}/db`, t.status()?.sources as never)).toBe(false);
  });
});
