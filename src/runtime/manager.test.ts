import { describe, expect, it } from 'vitest';
import { parseConfig } from '../config/config.ts';
import { KubeHttpError, TerminalError } from './errors.ts';
import type { LeaseRecord } from './leader.ts';
import { createLogger } from './logger.ts';
import { Manager } from './manager.ts';
import { createMetrics } from './metrics.ts';
import type { ObjectKey, ReconcileContext, Reconciler, Result } from './reconciler.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { FakeApi, MemoryLeaseStore, unusedKube } from './testing/fakes.ts';

const widgets = { group: 'test.dev', version: 'v1', plural: 'widgets', namespaced: true };
const log = createLogger({ level: 'silent' });

function config(extra: string[] = []) {
  return parseConfig(
    [
      '--metrics-bind-address=0',
      '--health-probe-bind-address=0',
      '--leader-elect',
      '--leader-election-namespace=ops',
      '--shutdown-timeout=30s',
      ...extra,
    ],
    {},
  );
}

type Reconcile = (key: ObjectKey, ctx: ReconcileContext) => Promise<Result | undefined>;

function setup(
  clock: FakeClock,
  api: FakeApi,
  store: MemoryLeaseStore,
  identity: string,
  reconcile: Reconcile,
  logger = log,
) {
  const metrics = createMetrics({ processMetrics: false });
  const manager = new Manager({
    config: config(),
    kubeConfig: unusedKube(),
    log: logger,
    clock,
    metrics,
    identity,
    leaseStore: store,
    listWatchClient: api,
  });
  const reconciler: Reconciler = { name: 'widget', reconcile };
  const informer = manager.informer({ type: widgets });
  manager.controller(reconciler).watch(informer);
  return { manager, metrics };
}

async function counter(metrics: ReturnType<typeof createMetrics>, result: string): Promise<number> {
  const values = (await metrics.reconcileTotal.get()).values;
  return values.find((v) => v.labels.result === result)?.value ?? 0;
}

describe('Manager', () => {
  it('reconciles only on the leader, seeded from the cache, and is ready on both replicas', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    api.put('team-a', 'existing', false);
    const seen: Record<string, string[]> = { one: [], two: [] };
    const one = setup(clock, api, store, 'one', async (k) => {
      seen.one?.push(`${k.namespace}/${k.name}`);
      return undefined;
    });
    const two = setup(clock, api, store, 'two', async (k) => {
      seen.two?.push(`${k.namespace}/${k.name}`);
      return undefined;
    });
    expect(one.manager.health.readyz().ok).toBe(false);
    await one.manager.start();
    await clock.flush();
    await two.manager.start();
    await clock.advance(5_000);
    api.put('team-a', 'created');
    await clock.flush();

    expect(seen.one).toEqual(['team-a/existing', 'team-a/created']);
    expect(seen.two).toEqual([]);
    expect(one.manager.leaderElector?.state).toBe('leading');
    expect(two.manager.leaderElector?.state).toBe('standby');
    expect(one.manager.health.readyz()).toEqual({
      ok: true,
      lines: ['[+]shutdown ok', '[+]informers ok', '[+]leader-election ok'],
    });
    expect(two.manager.health.readyz().ok).toBe(true);
    expect(await counter(one.metrics, 'success')).toBe(2);
    expect((await one.metrics.leader.get()).values[0]?.value).toBe(1);
    expect((await two.metrics.leader.get()).values[0]?.value ?? 0).toBe(0);

    // The leader goes away cleanly; the standby takes over and reconciles everything.
    await one.manager.stop();
    await clock.advance(5_000);
    expect(seen.two?.sort()).toEqual(['team-a/created', 'team-a/existing']);
    await two.manager.stop();
  });

  it('on stop finishes the in-flight reconcile before it releases the Lease', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    const order: string[] = [];
    const update = store.update.bind(store);
    store.update = async (record: LeaseRecord, version: string) => {
      if (record.holderIdentity === '') order.push('lease released');
      return update(record, version);
    };
    api.put('ns', 'slow', false);
    const { manager } = setup(clock, api, store, 'me', async () => {
      order.push('reconcile started');
      await new Promise<void>((resolve) => clock.setTimeout(resolve, 5_000));
      order.push('reconcile finished');
      return undefined;
    });
    await manager.start();
    await clock.flush();
    const stopped = manager.stop();
    expect(manager.health.readyz().ok).toBe(false);
    await clock.advance(5_000);
    expect(await stopped).toEqual({ reason: 'stopped', drained: true });
    expect(order).toEqual(['reconcile started', 'reconcile finished', 'lease released']);
  });

  it('bounds the shutdown: a stuck reconcile is aborted at the timeout and the Lease still released', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    api.put('ns', 'stuck', false);
    let aborted = false;
    const { manager } = setup(clock, api, store, 'me', (_key, ctx) => {
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => {
          aborted = true;
          reject(ctx.signal.reason);
        });
      });
    });
    await manager.start();
    await clock.flush();
    const stopped = manager.stop();
    await clock.advance(29_999);
    expect(aborted).toBe(false);
    await clock.advance(1);
    expect(await stopped).toEqual({ reason: 'stopped', drained: false });
    expect(aborted).toBe(true);
    expect(store.record?.holderIdentity).toBe('');
  });

  it('stops work and exits with leader-lost when the Lease cannot be renewed', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    api.put('ns', 'long', false);
    let signal: AbortSignal | undefined;
    const { manager } = setup(clock, api, store, 'me', (_key, ctx) => {
      signal = ctx.signal;
      return new Promise((_resolve, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
      });
    });
    await manager.start();
    await clock.flush();
    store.mode = 'fail';
    await clock.advance(10_000);
    expect(signal?.aborted).toBe(true);
    expect(await manager.wait()).toMatchObject({ reason: 'leader-lost' });
  });

  it('a replica that comes to lead retries its unsynced caches at once, not when their backoff ends', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    api.put('ns', 'waiting', false);
    // The API server is down from the start: lists fail and back off (1, 2, 4, 8, 16 s ...).
    api.listFailures = Array.from({ length: 50 }, () => new Error('connect ECONNREFUSED'));
    store.mode = 'fail';
    const seen: string[] = [];
    const { manager } = setup(clock, api, store, 'me', async (k) => {
      seen.push(`${k.name}@${clock.now()}`);
      return undefined;
    });
    await manager.start();
    await clock.advance(20_000);
    const listsWhileDown = api.lists.length;
    // Back: the next list after its backoff would come at 31 s or later.
    api.listFailures = [];
    store.mode = 'ok';
    await clock.advance(5_000);
    expect(manager.leaderElector?.state).toBe('leading');
    expect(api.lists.length).toBe(listsWhileDown + 1);
    expect(seen).toHaveLength(1);
    expect(Number(seen[0]?.split('@')[1])).toBeLessThan(25_000);
    await manager.stop();
  });

  it('counts results by controller: errors are retried, terminal errors are not', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const store = new MemoryLeaseStore();
    api.put('ns', 'flaky', false);
    api.put('ns', 'invalid', false);
    api.put('ns', 'refreshing', false);
    const calls: string[] = [];
    const { manager, metrics } = setup(clock, api, store, 'me', async (key) => {
      calls.push(key.name);
      if (key.name === 'invalid') throw new TerminalError('bad spec', { code: 'InvalidSpec' });
      if (key.name === 'flaky' && calls.filter((c) => c === 'flaky').length === 1) {
        throw new Error('remote side failed');
      }
      if (key.name === 'refreshing') return { requeueAfterMs: 60_000 };
      return undefined;
    });
    await manager.start();
    await clock.advance(1_000);
    expect(calls.sort()).toEqual(['flaky', 'flaky', 'invalid', 'refreshing']);
    expect(await counter(metrics, 'error')).toBe(1);
    expect(await counter(metrics, 'terminal_error')).toBe(1);
    expect(await counter(metrics, 'requeue_after')).toBe(1);
    expect(await counter(metrics, 'success')).toBe(1);
    expect((await metrics.workqueueRetries.get()).values[0]?.value).toBe(1);
    const errors = (await metrics.reconcileErrors.get()).values.map((v) => v.labels.code).sort();
    expect(errors).toEqual(['Error', 'InvalidSpec']);
    await manager.stop();
  });

  it('logs a 409 Conflict at info (retried, counted), any other failure at warn', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    api.put('ns', 'contended', false);
    api.put('ns', 'broken', false);
    const lines: { level: string; msg: string; name?: string }[] = [];
    const captured = createLogger({
      level: 'debug',
      destination: { write: (s: string) => lines.push(JSON.parse(s)) },
    });
    const calls: string[] = [];
    const { manager, metrics } = setup(
      clock,
      api,
      new MemoryLeaseStore(),
      'me',
      async (key) => {
        calls.push(key.name);
        if (calls.filter((c) => c === key.name).length > 1) return undefined;
        if (key.name === 'contended') {
          throw new KubeHttpError(409, 'Conflict', 'Conflict: the object has been modified');
        }
        throw new Error('remote side failed');
      },
      captured,
    );
    await manager.start();
    await clock.advance(1_000);
    const failures = lines.filter((l) => l.msg.startsWith('reconcile'));
    expect(failures.map((l) => [l.level, l.msg]).sort()).toEqual([
      ['info', 'reconcile met a newer version of an object; retrying'],
      ['warn', 'reconcile failed; retrying with backoff'],
    ]);
    expect(calls.sort()).toEqual(['broken', 'broken', 'contended', 'contended']);
    const codes = (await metrics.reconcileErrors.get()).values.map((v) => String(v.labels.code));
    expect(codes.sort()).toEqual(['409', 'Error']);
    await manager.stop();
  });
});
