import { describe, expect, it } from 'vitest';
import type { EventHandlers, Informer, KubeObject } from './informer.ts';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { Controller, type ObjectKey, type WatchOptions } from './reconciler.ts';
import { FakeClock } from './testing/fake-clock.ts';

/** An informer whose events the test fires by hand, resync included. */
class ScriptedInformer {
  handlers: EventHandlers<KubeObject> = {};
  objects: KubeObject[] = [];

  on(handlers: EventHandlers<KubeObject>): () => void {
    this.handlers = handlers;
    return () => {};
  }

  list(): KubeObject[] {
    return this.objects;
  }

  get informer(): Informer<KubeObject> {
    return this as unknown as Informer<KubeObject>;
  }
}

const obj = (name: string, rv = '1'): KubeObject => ({
  metadata: { namespace: 'ns', name, resourceVersion: rv },
});

async function watching(options: WatchOptions<KubeObject>) {
  const clock = new FakeClock(0);
  const seen: string[] = [];
  const controller = new Controller({
    reconciler: {
      name: 'widget',
      reconcile: async (key: ObjectKey) => {
        seen.push(`${key.namespace}/${key.name}`);
        return undefined;
      },
    },
    clock,
    log: createLogger({ level: 'silent' }),
    metrics: createMetrics({ processMetrics: false }),
    concurrency: 1,
  });
  const informer = new ScriptedInformer();
  controller.watch(informer.informer, options);
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  await clock.flush();
  const settle = async () => {
    await clock.advance(10);
    return seen.splice(0);
  };
  const halt = () => {
    stop.abort();
    return running;
  };
  return { informer, settle, stop: halt };
}

describe('Controller.watch', () => {
  it('filter drops add, update and resync, never delete', async () => {
    const w = await watching({ filter: (o) => o.metadata.resourceVersion !== 'echo' });
    const h = w.informer.handlers;
    h.add?.(obj('a', 'echo'));
    h.update?.(obj('a'), obj('a', 'echo'));
    h.resync?.(obj('a', 'echo'));
    expect(await w.settle()).toEqual([]);
    h.delete?.(obj('a', 'echo'));
    expect(await w.settle()).toEqual(['ns/a']);
    h.add?.(obj('b'));
    h.update?.(obj('c', 'echo'), obj('c', '2'));
    h.resync?.(obj('d'));
    expect((await w.settle()).sort()).toEqual(['ns/b', 'ns/c', 'ns/d']);
    await w.stop();
  });

  it('map turns an object into the keys to reconcile, on every kind of event', async () => {
    const w = await watching({
      map: (o) => [{ namespace: 'owners', name: `owner-of-${o.metadata.name}` }],
    });
    const h = w.informer.handlers;
    h.add?.(obj('s1'));
    expect(await w.settle()).toEqual(['owners/owner-of-s1']);
    h.delete?.(obj('s2'));
    expect(await w.settle()).toEqual(['owners/owner-of-s2']);
    await w.stop();
  });
});
