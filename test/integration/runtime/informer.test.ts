// Informers against the real API server: they keep delivering events across watches the
// server closes, injected failures and an expired resourceVersion (410 Gone), and can watch
// Secrets as metadata only. They use the operator's own client, as `loadKubeConfig` sets it up.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../../src/runtime/clock.ts';
import { Informer, type RestartReason } from '../../../src/runtime/informer.ts';
import { KubeHttpError } from '../../../src/runtime/kube.ts';
import {
  KubeListWatchClient,
  type ListOptions,
  type ListPage,
  type ListWatchClient,
  type WatchEvent,
  type WatchOptions,
} from '../../../src/runtime/listwatch.ts';
import { createLogger } from '../../../src/runtime/logger.ts';
import { createNamespace, eventually, kubeConfig, operatorKube } from '../support/cluster.ts';

const configMaps = { group: '', version: 'v1', plural: 'configmaps', namespaced: true };
const secrets = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
const log = createLogger({ level: 'silent' });

/** The real client, with the first watch sabotaged in a chosen way. */
class Sabotaged implements ListWatchClient {
  readonly #real: ListWatchClient;
  readonly #mode: 'fail-after-one-event' | 'expired-version';
  watches = 0;
  /** In 'expired-version' mode the first watch sees nothing, then 410 once this resolves. */
  expire = () => {};
  readonly #expired = new Promise<void>((resolve) => {
    this.expire = resolve;
  });

  constructor(real: ListWatchClient, mode: 'fail-after-one-event' | 'expired-version') {
    this.#real = real;
    this.#mode = mode;
  }

  list(path: string, options: ListOptions): AsyncIterable<ListPage> {
    return this.#real.list(path, options);
  }

  async *watch(path: string, options: WatchOptions): AsyncIterable<WatchEvent> {
    this.watches++;
    if (this.watches > 1) {
      yield* this.#real.watch(path, options);
    } else if (this.#mode === 'expired-version') {
      // What the API server sends when the watch fell behind etcd compaction (a fresh test
      // cluster has not compacted anything yet, so the event is produced here).
      await this.#expired;
      yield {
        type: 'ERROR',
        object: {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
        },
      };
    } else {
      for await (const event of this.#real.watch(path, options)) {
        yield event;
        throw new Error('injected: connection reset');
      }
    }
  }
}

let core: CoreV1Api;
let namespace: string;
const running: Informer[] = [];

beforeAll(async () => {
  core = kubeConfig().makeApiClient(CoreV1Api);
  namespace = await createNamespace('rt-informer');
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((i) => i.stop()));
});

function start(
  client: ListWatchClient,
  options: { watchTimeoutSeconds?: number; labelSelector: string },
) {
  const restarts: RestartReason[] = [];
  const added: string[] = [];
  const informer = new Informer({
    client,
    clock: realClock,
    log,
    type: configMaps,
    namespaces: [namespace],
    labelSelector: options.labelSelector,
    backoff: { initialMs: 50, maxMs: 500 },
    watchTimeoutSeconds: () => options.watchTimeoutSeconds ?? 300,
    onRestart: (r) => restarts.push(r),
  });
  informer.on({ add: (o) => added.push(o.metadata.name) });
  informer.start();
  running.push(informer);
  return { informer, restarts, added };
}

async function createConfigMap(name: string, group: string): Promise<void> {
  await core.createNamespacedConfigMap({
    namespace,
    body: { metadata: { name, labels: { group } }, data: { k: 'v' } },
  });
}

describe('Informer on a real API server', () => {
  it('keeps delivering events across watches the server closes', async () => {
    const { informer, restarts, added } = start(new KubeListWatchClient(operatorKube()), {
      watchTimeoutSeconds: 1,
      labelSelector: 'group=closing',
    });
    await informer.waitForSync();
    await createConfigMap('before-close', 'closing');
    await eventually('the first event', async () =>
      added.includes('before-close') ? true : undefined,
    );
    // The server ends each watch after 1 s; wait for two of those, then create more.
    await eventually('two server-side closes', async () =>
      restarts.filter((r) => r === 'closed').length >= 2 ? true : undefined,
    );
    await createConfigMap('after-close', 'closing');
    await eventually('an event after the closes', async () =>
      added.includes('after-close') ? true : undefined,
    );
    expect(added).toEqual(['before-close', 'after-close']);
    expect(restarts.every((r) => r === 'closed')).toBe(true);
  });

  it('restarts after a watch error and misses nothing that happened meanwhile', async () => {
    const client = new Sabotaged(new KubeListWatchClient(operatorKube()), 'fail-after-one-event');
    const { informer, restarts, added } = start(client, { labelSelector: 'group=failing' });
    await informer.waitForSync();
    await createConfigMap('one', 'failing');
    await createConfigMap('two', 'failing');
    await createConfigMap('three', 'failing');
    await eventually('all three adds', async () => (added.length === 3 ? true : undefined));
    expect(added).toEqual(['one', 'two', 'three']);
    expect(restarts).toContain('error');
    expect(client.watches).toBeGreaterThanOrEqual(2);
  });

  it('relists when its resourceVersion expired (410 Gone), catching up on what it missed', async () => {
    await createConfigMap('existing', 'expired');
    await createConfigMap('doomed', 'expired');
    const client = new Sabotaged(new KubeListWatchClient(operatorKube()), 'expired-version');
    const { informer, restarts, added } = start(client, { labelSelector: 'group=expired' });
    const deleted: string[] = [];
    informer.on({ delete: (o) => deleted.push(o.metadata.name) });
    await informer.waitForSync();
    // Changes the stalled watch never reports.
    await core.deleteNamespacedConfigMap({ namespace, name: 'doomed' });
    await createConfigMap('missed', 'expired');
    client.expire();
    await eventually('the relist', async () => (added.includes('missed') ? true : undefined));
    expect(restarts).toContain('expired');
    expect(deleted).toEqual(['doomed']);
    // And the new watch delivers what happens next.
    await createConfigMap('later', 'expired');
    await eventually('the event after relisting', async () =>
      added.includes('later') ? true : undefined,
    );
    expect(
      informer
        .list()
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['existing', 'later', 'missed']);
  });

  it('lists page by page (limit/continue), relists when a continue expired, keeps no managedFields', async () => {
    for (let i = 0; i < 25; i++)
      await createConfigMap(`paged-${String(i).padStart(2, '0')}`, 'paged');
    const real = new KubeListWatchClient(operatorKube());
    const pages: Array<{ items: number; managedFields: number }> = [];
    let lists = 0;
    // The real pages, counted; the first list's second page replaced by the API server's answer
    // to a continue token older than etcd's compaction (a fresh cluster has compacted nothing).
    const client: ListWatchClient = {
      list: async function* (path, options) {
        lists++;
        let page = 0;
        for await (const p of real.list(path, options)) {
          if (lists === 1 && ++page === 2) {
            throw new KubeHttpError(410, 'Expired', 'The provided continue parameter is too old');
          }
          const managedFields = p.items.filter(
            (o) => (o as { metadata?: { managedFields?: unknown } }).metadata?.managedFields,
          ).length;
          pages.push({ items: p.items.length, managedFields });
          yield p;
        }
      },
      watch: (path, options) => real.watch(path, options),
    };
    const restarts: RestartReason[] = [];
    const informer = new Informer({
      client,
      clock: realClock,
      log,
      type: configMaps,
      namespaces: [namespace],
      labelSelector: 'group=paged',
      pageSize: 10,
      onRestart: (r) => restarts.push(r),
    });
    running.push(informer);
    informer.start();
    await informer.waitForSync();
    expect(restarts).toEqual(['expired']);
    expect(lists).toBe(2);
    // The first list's page, then the whole relist in pages of 10.
    expect(pages.map((p) => p.items)).toEqual([10, 10, 10, 5]);
    // The API server sends managedFields with every object; the list client cuts them out of
    // the text before parsing, so no page carries them and none is cached.
    const raw = await operatorKube().stream('GET', `/api/v1/namespaces/${namespace}/configmaps`, {
      query: { labelSelector: 'group=paged' },
    });
    const sent = (await raw.body.json()) as {
      items: Array<{ metadata: { managedFields?: unknown } }>;
    };
    expect(sent.items.filter((o) => o.metadata.managedFields)).toHaveLength(25);
    expect(pages.every((p) => p.managedFields === 0)).toBe(true);
    const cached = informer.list();
    expect(cached).toHaveLength(25);
    expect(cached.filter((o) => 'managedFields' in o.metadata)).toEqual([]);
  });

  it('watches Secrets as metadata only, never holding their data', async () => {
    const value = Buffer.from('metadata-only-secret-value').toString('base64');
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'listed', labels: { group: 'meta' } }, data: { key: value } },
    });
    const informer = new Informer({
      client: new KubeListWatchClient(operatorKube()),
      clock: realClock,
      log,
      type: secrets,
      namespaces: [namespace],
      labelSelector: 'group=meta',
      metadataOnly: true,
    });
    running.push(informer);
    informer.start();
    await informer.waitForSync();
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'watched', labels: { group: 'meta' } }, data: { key: value } },
    });
    await eventually('the watched Secret', async () => informer.get(namespace, 'watched'));
    for (const name of ['listed', 'watched']) {
      const cached = informer.get(namespace, name);
      expect(cached?.kind).toBe('PartialObjectMetadata');
      expect(cached?.metadata.labels).toEqual({ group: 'meta' });
      expect(JSON.stringify(cached)).not.toContain(value);
    }
  });
});
