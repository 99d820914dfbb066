import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../runtime/logger.ts';
import { FakeClock, flush, settle } from '../../runtime/testing/fake-clock.ts';
import type { RemoteSecret, SecretRef, SecretsManagerClient } from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { arbitraryData } from '../../secretsmanager/testing/fixtures.ts';
import { vaultEnvelope } from '../../secretsmanager/testing/mock-server.ts';
import { setup as clientSetup } from '../../secretsmanager/testing/setup.ts';
import { StoreRegistry } from './registry.ts';
import { RemoteView, type SourceState } from './view.ts';
import { createRemoteViewMetrics } from './view-metrics.ts';

const log = createLogger({ level: 'silent' });

/** `view.warm` as a promise that settles when its reads did; undefined when none was needed. */
function warmed(view: RemoteView, refs: SecretRef[], maxAgeMs: number): Promise<void> | undefined {
  let done!: () => void;
  const settled = new Promise<void>((resolve) => {
    done = resolve;
  });
  return view.warm(refs, maxAgeMs, done) ? settled : undefined;
}

/** A client whose reads wait until the test finishes them, at a stated rate limit. */
class HeldReadsClient extends FakeSecretsManagerClient {
  readonly requestsPerSecond = 10;
  active = 0;
  peak = 0;
  readonly #held: Array<() => void> = [];

  override async getSecret(ref: SecretRef): Promise<RemoteSecret> {
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    await new Promise<void>((resolve) => this.#held.push(resolve));
    this.active--;
    return super.getSecret(ref);
  }

  /** Lets the oldest held read go on; false when none is held. */
  finishOne(): boolean {
    const next = this.#held.shift();
    next?.();
    return next !== undefined;
  }
}

/** A view over `client` that does not poll and tells nobody of changes. */
function quietView(client: SecretsManagerClient, clock: FakeClock): RemoteView {
  return new RemoteView({
    client,
    clock,
    pollIntervalMs: 0,
    store: 'SecretStore/ns/sm',
    metrics: createRemoteViewMetrics(new Registry()),
    log,
    onChange: () => {},
  });
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function arbitrary(id: string, name: string, payload: string, updatedAt: string): RemoteSecret {
  return {
    type: 'arbitrary',
    metadata: { id, name, type: 'arbitrary', groupId: 'default', labels: [], updatedAt },
    payload,
  };
}

function setup(pollIntervalMs = 60_000) {
  const clock = new FakeClock();
  const client = new FakeSecretsManagerClient(() => clock.now());
  client.put(arbitrary('a1', 'alpha', 'A1', 'T1')).put(arbitrary('b1', 'beta', 'B1', 'T1'));
  const changes: string[][] = [];
  const registry = new Registry();
  const view = new RemoteView({
    client,
    clock,
    pollIntervalMs,
    store: 'SecretStore/ns/sm',
    metrics: createRemoteViewMetrics(registry),
    log,
    onChange: (resources) => changes.push([...resources].sort()),
  });
  const valueReads = () => client.calls.filter((c) => c.method === 'getSecret').length;
  const lists = () => client.calls.filter((c) => c.method === 'listSecrets').length;
  /** One sync of `resource`: reads `refs`, then tracks what it read. */
  const sync = async (
    resource: string,
    refs: Array<{ id?: string; name?: string }>,
    maxAgeMs = Number.POSITIVE_INFINITY,
  ) => {
    const r = view.reader(maxAgeMs);
    const values = [];
    for (const ref of refs) values.push(await r.reader.getSecret({ type: 'arbitrary', ...ref }));
    view.track(resource, r.sources(), [], true);
    return { values, sources: r.sources() };
  };
  return { clock, client, view, changes, registry, valueReads, lists, sync };
}

describe('RemoteView', () => {
  it('reads a secret referenced by ID and by name once, for every resource', async () => {
    const t = setup();
    await Promise.all([
      t.sync('ns/one', [{ id: 'a1' }]),
      t.sync('ns/two', [{ name: 'alpha' }]),
      t.sync('ns/three', [{ id: 'a1' }]),
    ]);
    expect(t.valueReads()).toBe(1);
    expect(t.view.size).toBe(1);
  });

  it('shares one read between concurrent first syncs without a list (polling off)', async () => {
    const t = setup(0);
    const [a, b] = await Promise.all([
      t.sync('ns/one', [{ id: 'a1' }]),
      t.sync('ns/two', [{ id: 'a1' }]),
    ]);
    expect(t.valueReads()).toBe(1);
    expect(a.values[0]).toEqual(b.values[0]);
    expect(t.lists()).toBe(0);
  });

  it('warms: reads ahead what a sync would wait for, once, and nothing that is at hand', async () => {
    const t = setup();
    const refs = [
      { type: 'arbitrary' as const, id: 'a1' },
      { type: 'arbitrary' as const, name: 'beta' },
      { type: 'iam_credentials' as const, id: 'never-through-the-view' },
    ];
    const first = warmed(t.view, refs, 60_000);
    const again = warmed(t.view, refs, 60_000);
    expect(first).toBeInstanceOf(Promise);
    await Promise.all([first, again]);
    // One read each (shared by both), one list to learn the name; iam_credentials left alone.
    expect(t.valueReads()).toBe(2);
    expect(t.view.size).toBe(2);
    expect(warmed(t.view, refs, 60_000)).toBeUndefined();
    // The sync that follows reads nothing.
    await t.sync('ns/one', [{ id: 'a1' }, { name: 'beta' }], 60_000);
    expect(t.valueReads()).toBe(2);
    // Older than the sync accepts: read again, once.
    await t.clock.advance(61_000);
    await warmed(t.view, refs, 60_000);
    expect(t.valueReads()).toBe(4);
    // A failed read settles the warm-up too (the sync reports it).
    await expect(
      warmed(t.view, [{ type: 'arbitrary', id: 'gone' }], 60_000),
    ).resolves.toBeUndefined();
  });

  it('hands the client about a second of reads at a time; the rest wait as keys', async () => {
    const clock = new FakeClock();
    const client = new HeldReadsClient(() => clock.now());
    for (let i = 0; i < 30; i++) client.put(arbitrary(`s${i}`, `n${i}`, `v${i}`, 'T1'));
    const view = quietView(client, clock);
    let done = 0;
    for (let i = 0; i < 30; i++) {
      // Two resources per secret: one read each, two wake-ups.
      for (const _ of [1, 2]) view.warm([{ type: 'arbitrary', id: `s${i}` }], 60_000, () => done++);
    }
    await nextTurn();
    // 10 requests per second: 10 reads in the client, 20 waiting in the view.
    expect(client.active).toBe(10);
    expect(view.backlogged).toBe(true);
    while (client.finishOne()) await nextTurn();
    expect(client.peak).toBe(10);
    expect(done).toBe(60);
    expect(client.calls.filter((c) => c.method === 'getSecret')).toHaveLength(30);
    expect(view.backlogged).toBe(false);
    expect(view.size).toBe(30);

    // A stopped view lets the reads waiting for their turn go on (their readers wait for them).
    for (let i = 0; i < 30; i++) warmed(view, [{ type: 'arbitrary', id: `s${i}` }], 0);
    await nextTurn();
    expect(client.active).toBe(10);
    view.stop();
    await nextTurn();
    expect(client.active).toBe(30);
    while (client.finishOne()) await nextTurn();
  });

  it('a request past the view waits about a second behind a first sync, not for all of it', async () => {
    // The real client at 10 requests per second; 100 secrets to read ahead (10 s of reads).
    const c = clientSetup({ rateLimit: { qps: 10, burst: 1 } });
    try {
      c.server.vaultGet(/arbitrary\/secrets\/[\w-]+$/, (req) => ({
        status: 200,
        body: vaultEnvelope(arbitraryData({ id: req.path.split('/').pop() })),
      }));
      const view = quietView(c.client, c.clock);
      let done = 0;
      let allDone!: () => void;
      const all = new Promise<void>((resolve) => {
        allDone = resolve;
      });
      const onDone = () => {
        if (++done === 100) allDone();
      };
      for (let i = 0; i < 100; i++) view.warm([{ type: 'arbitrary', id: `s${i}` }], 60_000, onDone);
      await flush();
      const started = c.clock.now();
      // Anything that does not go through the view (a lease's key, a pinned version, a list).
      await c.run(c.client.getSecret({ type: 'arbitrary', id: 'direct' }));
      expect(c.clock.now() - started).toBeLessThanOrEqual(1_100);
      await settle(all, c.clock, 1_000);
      expect(c.server.count('GET', /arbitrary\/secrets\/s\d+$/)).toBe(100);
    } finally {
      await c.server.close();
    }
  });

  it('keeps a value read ahead through polls until its resource syncs, ten minutes at most', async () => {
    const t = setup(5_000);
    await warmed(t.view, [{ type: 'arbitrary', id: 'a1' }], 60 * 60_000);
    await t.sync('ns/holder', [{ id: 'b1' }]);
    // Polls come and go while the resource waits for its other values: a1 stays.
    await t.clock.advance(5 * 60_000);
    await t.sync('ns/one', [{ id: 'a1' }], 60 * 60_000);
    expect(t.valueReads()).toBe(2);
    // Never taken up (its resource failed or went away): dropped after ten minutes.
    t.view.release('ns/holder');
    expect(t.view.size).toBe(1);
    await warmed(t.view, [{ type: 'arbitrary', id: 'b1' }], 60 * 60_000);
    expect(t.view.size).toBe(2);
    await t.clock.advance(11 * 60_000);
    expect(t.view.size).toBe(1);
  });

  it('drops a value when no resource references it any more', async () => {
    const t = setup();
    await t.sync('ns/one', [{ id: 'a1' }, { id: 'b1' }]);
    await t.sync('ns/two', [{ id: 'a1' }]);
    expect(t.view.size).toBe(2);
    t.view.release('ns/one');
    expect(t.view.size).toBe(1);
    // A spec change that stops referencing a secret drops it too.
    t.view.track('ns/two', [], [], true);
    expect(t.view.size).toBe(0);
  });

  it('never holds iam_credentials: every read mints and goes to the client', async () => {
    const t = setup();
    t.client.putIamSecret({ id: 'i1', name: 'writer', ttlSeconds: 3600, reuseApiKey: true });
    const r = t.view.reader(Number.POSITIVE_INFINITY);
    await r.reader.getSecret({ type: 'iam_credentials', id: 'i1' });
    await r.reader.getSecret({ type: 'iam_credentials', id: 'i1' });
    expect(t.valueReads()).toBe(2);
    expect(t.view.size).toBe(0);
    expect(r.sources()).toEqual([]);
  });

  it('reads a value again when it is older than the resource allows, once for all', async () => {
    const t = setup();
    await t.sync('ns/one', [{ id: 'a1' }]);
    await t.clock.advance(10_000);
    await t.sync('ns/two', [{ id: 'a1' }], 30_000);
    expect(t.valueReads()).toBe(1);
    await t.clock.advance(25_000);
    await Promise.all([
      t.sync('ns/one', [{ id: 'a1' }], 30_000),
      t.sync('ns/two', [{ id: 'a1' }], 30_000),
    ]);
    expect(t.valueReads()).toBe(2);
    // maxAge 0 (force-sync) always reads.
    await t.sync('ns/one', [{ id: 'a1' }], 0);
    expect(t.valueReads()).toBe(3);
  });

  it('re-reads only a secret whose last_update_date moved, and flags exactly its users', async () => {
    const t = setup();
    await t.sync('ns/one', [{ id: 'a1' }]);
    await t.sync('ns/two', [{ name: 'alpha' }, { id: 'b1' }]);
    await t.sync('ns/three', [{ id: 'b1' }]);
    await t.view.poll();
    expect(t.changes).toEqual([]);
    const before = t.valueReads();
    t.client.put(arbitrary('a1', 'alpha', 'A2', 'T2'));
    // One that already synced the new value (a forced read) is not re-synced again.
    t.view.track('ns/fresh', [{ type: 'arbitrary', id: 'a1', lastUpdateDate: 'T2' }], [], true);
    await t.view.poll();
    expect(t.changes).toEqual([['ns/one', 'ns/two']]);
    expect(t.valueReads()).toBe(before + 1);
    // The re-synced resources take the new value without another read.
    const again = await t.sync('ns/one', [{ id: 'a1' }]);
    expect(again.values[0]).toMatchObject({ payload: 'A2' });
    await t.sync('ns/two', [{ name: 'alpha' }, { id: 'b1' }]);
    expect(t.valueReads()).toBe(before + 1);
    expect(t.view.changed('ns/two', again.sources)).toBe(false);
  });

  it('flags the users of a secret that vanished and drops its value', async () => {
    const t = setup();
    await t.sync('ns/one', [{ id: 'a1' }]);
    await t.sync('ns/two', [{ id: 'b1' }]);
    t.client.remove('arbitrary', 'a1');
    await t.view.poll();
    expect(t.changes).toEqual([['ns/one']]);
    expect(t.view.size).toBe(1);
  });

  it('after a restart, compares recorded sources with the lists without reading values', async () => {
    const t = setup();
    const recorded = (id: string, lastUpdateDate: string): SourceState[] => [
      { type: 'arbitrary', id, lastUpdateDate },
    ];
    t.view.track('ns/same', recorded('a1', 'T1'), [], false);
    t.view.track('ns/moved', recorded('b1', 'T0'), [], false);
    await t.view.poll();
    expect(t.valueReads()).toBe(0);
    expect(t.changes).toEqual([['ns/moved']]);
    expect(t.view.changed('ns/same', recorded('a1', 'T1'))).toBe(false);
    expect(t.view.changed('ns/moved', recorded('b1', 'T0'))).toBe(true);
  });

  it('polls the lists of the types in use on its interval, one call per type', async () => {
    const t = setup(30_000);
    await t.sync('ns/one', [{ id: 'a1' }, { id: 'b1' }]);
    const before = t.lists();
    await t.clock.advance(30_000);
    await t.clock.advance(30_000);
    expect(t.lists() - before).toBe(2);
    t.view.stop();
    await t.clock.advance(120_000);
    expect(t.lists() - before).toBe(2);
  });

  it('re-syncs the finders of a type when its list changes (a new match)', async () => {
    const t = setup();
    t.view.track('ns/finder', [], ['arbitrary'], true);
    t.view.track('ns/other', [], ['kv'], true);
    await t.view.poll();
    t.client.put(arbitrary('c1', 'gamma', 'C1', 'T3'));
    await t.view.poll();
    expect(t.changes).toEqual([['ns/finder']]);
  });
});

describe('StoreRegistry views', () => {
  it('drops a store view when the store changes (new generation or client)', async () => {
    const clock = new FakeClock();
    const registry = new StoreRegistry({ log, clock });
    const client = new FakeSecretsManagerClient(() => clock.now());
    client.put(arbitrary('a1', 'alpha', 'A1', 'T1'));
    const key = { kind: 'ClusterSecretStore' as const, name: 'cs' };
    const info = (generation: number) => ({
      ...key,
      uid: 'u',
      generation,
      url: 'http://sm',
      revocation: 'auto' as const,
      pollIntervalMs: 60_000,
    });
    registry.setState(key, { ready: true, uid: 'u', generation: 1, client, info: info(1) });
    const first = viewOf(registry, key);
    const r = first.reader(Number.POSITIVE_INFINITY);
    await r.reader.getSecret({ type: 'arbitrary', id: 'a1' });
    registry.track(first, 'ns/one', r.sources(), [], true);
    expect(first.size).toBe(1);
    registry.setState(key, { ready: true, uid: 'u', generation: 1, client, info: info(1) });
    expect(viewOf(registry, key)).toBe(first);
    registry.setState(key, { ready: true, uid: 'u', generation: 2, client, info: info(2) });
    expect(viewOf(registry, key)).not.toBe(first);
    expect(first.size).toBe(0);
  });
});

function viewOf(registry: StoreRegistry, key: { kind: 'ClusterSecretStore'; name: string }) {
  const state = registry.stateOf(key);
  if (!state?.ready) throw new Error('not ready');
  // resolve() needs informers; the view is reachable through a resolve-free accessor in tests.
  const view = registry.viewFor(key);
  if (!view) throw new Error('no view');
  return view;
}
