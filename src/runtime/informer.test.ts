import { afterEach, describe, expect, it, vi } from 'vitest';
import { Informer, type RestartReason } from './informer.ts';
import { KubeHttpError } from './kube.ts';
import { createLogger } from './logger.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { FakeApi } from './testing/fakes.ts';

const secrets = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
const silent = createLogger({ level: 'silent' });
const informers: Informer[] = [];

function setup(options: { namespaces?: string[]; resyncPeriodMs?: number } = {}) {
  const clock = new FakeClock(0);
  const api = new FakeApi();
  const restarts: RestartReason[] = [];
  const events: string[] = [];
  const informer = new Informer({
    client: api,
    clock,
    log: silent,
    type: secrets,
    namespaces: options.namespaces,
    resyncPeriodMs: options.resyncPeriodMs,
    onRestart: (r) => restarts.push(r),
    watchTimeoutSeconds: () => 300,
    random: () => 0,
  });
  informers.push(informer);
  informer.on({
    add: (o) => events.push(`add ${o.metadata.name}`),
    update: (_old, o) => events.push(`update ${o.metadata.name}`),
    delete: (o) => events.push(`delete ${o.metadata.name}`),
    resync: (o) => events.push(`resync ${o.metadata.name}`),
  });
  return { clock, api, restarts, events, informer };
}

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

describe('Informer', () => {
  it('lists, then keeps the cache current from the watch', async () => {
    const { clock, api, events, informer } = setup();
    api.put('a', 'one', false);
    informer.start();
    await informer.waitForSync();
    expect(informer.get('a', 'one')?.metadata.name).toBe('one');
    await clock.flush();
    api.put('a', 'two');
    api.put('a', 'one');
    api.remove('a', 'two');
    await clock.flush();
    expect(events).toEqual(['add one', 'add two', 'update one', 'delete two']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['one']);
    expect(api.open?.options.resourceVersion).toBe('101');
  });

  it('resumes from a bookmark, which carries a resourceVersion and no name', async () => {
    const clock = new FakeClock(0);
    const api = new FakeApi();
    const lines: string[] = [];
    const log = createLogger({
      level: 'warn',
      destination: { write: (line: string) => lines.push(line) },
    });
    const informer = new Informer({
      client: api,
      clock,
      log,
      type: secrets,
      watchTimeoutSeconds: () => 300,
      random: () => 0,
    });
    informers.push(informer);
    informer.start();
    await informer.waitForSync();
    await clock.flush();
    api.open?.push({
      type: 'BOOKMARK',
      object: { kind: 'Secret', apiVersion: 'v1', metadata: { resourceVersion: '555' } },
    });
    await clock.flush();
    api.open?.fail(new Error('connection reset'));
    await clock.advance(1000);
    expect(api.watches).toHaveLength(2);
    expect(api.open?.options.resourceVersion).toBe('555');
    expect(lines.join('')).not.toContain('does not parse');
  });

  it('stops promptly even when stopped right after its first list', async () => {
    const { api, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await informer.stop();
    expect(api.watches.every((w) => w.options.signal.aborted)).toBe(true);
  });

  it('restarts the watch after an error with backoff, from the last resourceVersion', async () => {
    const { clock, api, restarts, events, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await clock.flush();
    api.put('a', 'x');
    await clock.flush();
    api.open?.fail(new Error('connection reset'));
    await clock.advance(999);
    expect(api.watches).toHaveLength(1);
    await clock.advance(1);
    expect(api.watches).toHaveLength(2);
    expect(api.open?.options.resourceVersion).toBe('101');
    expect(api.lists).toHaveLength(1);
    expect(restarts).toEqual(['error']);
    // And it keeps delivering events on the new watch.
    api.put('a', 'y');
    await clock.flush();
    expect(events).toEqual(['add x', 'add y']);
  });

  it('backs off longer after repeated failures and resets after a success', async () => {
    const { clock, api, restarts, informer } = setup();
    api.listFailures = [new KubeHttpError(503, 'ServiceUnavailable', 'down'), new Error('refused')];
    informer.start();
    await clock.advance(999);
    expect(api.lists).toHaveLength(1);
    await clock.advance(1);
    expect(api.lists).toHaveLength(2);
    await clock.advance(1999);
    expect(api.lists).toHaveLength(2);
    await clock.advance(1);
    expect(api.lists).toHaveLength(3);
    expect(informer.hasSynced).toBe(true);
    expect(restarts).toEqual(['error', 'error']);
  });

  it('retryNow ends a backoff wait: the next list starts at once', async () => {
    const { clock, api, informer } = setup();
    api.listFailures = [1, 2, 3, 4].map(() => new Error('refused'));
    informer.start();
    // Failures at 0, 1, 3 and 7 s; the next list would be at 15 s.
    await clock.advance(7_000);
    expect(api.lists).toHaveLength(4);
    await clock.advance(1_000);
    expect(api.lists).toHaveLength(4);
    informer.retryNow();
    await clock.flush();
    expect(api.lists).toHaveLength(5);
    expect(informer.hasSynced).toBe(true);
  });

  it('draws the backoff jitter and the watch timeout from the injected random source', async () => {
    // Math.random would give other numbers: 1 s + 18% backoff and a 570 s timeout.
    const mathRandom = vi.spyOn(Math, 'random').mockReturnValue(0.9);
    try {
      const clock = new FakeClock(0);
      const api = new FakeApi();
      api.listFailures = [new Error('refused')];
      const informer = new Informer({
        client: api,
        clock,
        log: silent,
        type: secrets,
        random: () => 0.5,
      });
      informers.push(informer);
      informer.start();
      // 1 s backoff plus 20% of it times 0.5.
      await clock.advance(1099);
      expect(api.lists).toHaveLength(1);
      await clock.advance(1);
      expect(api.lists).toHaveLength(2);
      await clock.flush();
      // Between 5 and 10 minutes, as client-go: halfway for 0.5.
      expect(api.open?.options.timeoutSeconds).toBe(450);
    } finally {
      mathRandom.mockRestore();
    }
  });

  it('relists at once on 410 Gone and emits deletes for what vanished meanwhile', async () => {
    const { clock, api, restarts, events, informer } = setup();
    api.put('a', 'stays', false);
    api.put('a', 'goes', false);
    informer.start();
    await informer.waitForSync();
    await clock.flush();
    // While the watch was behind, one object was deleted and one created.
    api.remove('a', 'goes', false);
    api.put('a', 'new', false);
    api.open?.push({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } });
    await clock.flush();
    expect(restarts).toEqual(['expired']);
    expect(api.lists).toHaveLength(2);
    expect(events).toEqual(['add stays', 'add goes', 'add new', 'delete goes']);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['new', 'stays']);
  });

  it('rewatches at once when the server closes the watch', async () => {
    const { clock, api, restarts, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await clock.flush();
    api.open?.end();
    await clock.flush();
    expect(api.watches).toHaveLength(2);
    expect(restarts).toEqual(['closed']);
  });

  it('restarts a watch that went silent past its timeout', async () => {
    const { clock, api, restarts, informer } = setup();
    informer.start();
    await informer.waitForSync();
    await clock.advance(300_000 + 30_000);
    expect(restarts).toEqual(['stalled']);
    expect(api.watches).toHaveLength(2);
  });

  it('relists and resyncs every object each resync period', async () => {
    const { clock, api, events, informer } = setup({ resyncPeriodMs: 3_600_000 });
    api.put('a', 'one', false);
    api.put('a', 'two', false);
    informer.start();
    await informer.waitForSync();
    await clock.advance(3_600_000);
    expect(api.lists).toHaveLength(2);
    expect(events).toEqual(['add one', 'add two', 'resync one', 'resync two']);
  });

  it('merges several namespaces into one cache and syncs when all are listed', async () => {
    const { clock, api, informer } = setup({ namespaces: ['a', 'b'] });
    api.put('a', 'in-a', false);
    api.put('b', 'in-b', false);
    api.put('c', 'in-c', false);
    api.listFailures = [undefined, new Error('b is slow')];
    informer.start();
    await clock.flush();
    expect(informer.hasSynced).toBe(false);
    await clock.advance(1000);
    expect(informer.hasSynced).toBe(true);
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['in-a', 'in-b']);
    expect(informer.get('b', 'in-b')).toBeDefined();
    expect(informer.list('a').map((o) => o.metadata.name)).toEqual(['in-a']);
  });
});
