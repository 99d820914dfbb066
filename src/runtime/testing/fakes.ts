/**
 * In-memory stand-ins for the API server, for unit tests of the runtime and the controllers:
 * `FakeApi` serves LIST and scripted WATCH streams to an `Informer`; `MemoryLeaseStore` is a
 * Lease for the `LeaderElector`. Not used by the operator itself.
 */
import type { KubeObject } from '../informer.ts';
import { KubeClient } from '../kubeclient.ts';
import type { LeaseRecord, LeaseStore } from '../leader.ts';
import {
  DEFAULT_PAGE_SIZE,
  type ListOptions,
  type ListPage,
  type ListWatchClient,
  type WatchEvent,
  type WatchOptions,
} from '../listwatch.ts';

/** A scripted watch stream: the test pushes events, closes it or fails it. */
export class FakeWatch implements AsyncIterable<WatchEvent> {
  readonly path: string;
  readonly options: WatchOptions;
  #events: WatchEvent[] = [];
  #ended = false;
  #error: unknown;
  #wake: (() => void) | undefined;

  constructor(path: string, options: WatchOptions) {
    this.path = path;
    this.options = options;
    // Like fetch: an aborted signal ends the stream, even one aborted before the call.
    const abort = () => this.fail(new DOMException('aborted', 'AbortError'));
    if (options.signal.aborted) abort();
    options.signal.addEventListener('abort', abort);
  }

  push(event: WatchEvent): void {
    this.#events.push(event);
    this.#wake?.();
  }

  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  fail(err: unknown): void {
    this.#error ??= err;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<WatchEvent> {
    for (;;) {
      const next = this.#events.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.#error !== undefined) throw this.#error;
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

/** An API server in memory: objects with resourceVersions, lists and scripted watches. */
export class FakeApi implements ListWatchClient {
  readonly objects = new Map<string, KubeObject>();
  readonly lists: string[] = [];
  /** Pages served, in order: the path and how many objects each held. */
  readonly pages: Array<{ path: string; items: number }> = [];
  readonly watches: FakeWatch[] = [];
  /** Thrown, one per list, before its first page. */
  listFailures: unknown[] = [];
  /** Thrown, one per list, in place of the page at index `page` (e.g. an expired continue). */
  pageFailures: Array<{ page: number; error: unknown }> = [];
  #rv = 100;

  async *list(path: string, options: ListOptions): AsyncIterable<ListPage> {
    this.lists.push(path);
    const failure = this.listFailures.shift();
    if (failure) throw failure;
    const ns = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
    // A snapshot at the start, as the API server serves every page from one resourceVersion.
    const items = structuredClone(
      [...this.objects.values()].filter((o) => !ns || o.metadata.namespace === ns),
    );
    const resourceVersion = String(this.#rv);
    const size = options.pageSize ?? DEFAULT_PAGE_SIZE;
    for (let page = 0, start = 0; page === 0 || start < items.length; page++, start += size) {
      if (this.pageFailures[0]?.page === page) throw this.pageFailures.shift()?.error;
      const slice = items.slice(start, start + size);
      this.pages.push({ path, items: slice.length });
      yield { items: slice, resourceVersion };
    }
  }

  watch(path: string, options: WatchOptions): AsyncIterable<WatchEvent> {
    const stream = new FakeWatch(path, options);
    this.watches.push(stream);
    return stream;
  }

  /** Creates or changes an object and, when `notify`, tells the open watches. */
  put(namespace: string, name: string, notify = true): KubeObject {
    const key = `${namespace}/${name}`;
    const type = this.objects.has(key) ? 'MODIFIED' : 'ADDED';
    const obj: KubeObject = { metadata: { namespace, name, resourceVersion: String(++this.#rv) } };
    this.objects.set(key, obj);
    if (notify) this.#notify(namespace, { type, object: structuredClone(obj) });
    return obj;
  }

  remove(namespace: string, name: string, notify = true): void {
    const obj = this.objects.get(`${namespace}/${name}`);
    this.objects.delete(`${namespace}/${name}`);
    if (obj && notify) this.#notify(namespace, { type: 'DELETED', object: obj });
  }

  get open(): FakeWatch | undefined {
    return this.watches.at(-1);
  }

  #notify(namespace: string, event: WatchEvent): void {
    for (const w of this.watches) {
      if (w.path.includes(`/namespaces/${namespace}/`) || !w.path.includes('/namespaces/'))
        w.push(event);
    }
  }
}

/** One Lease in memory, with optimistic concurrency and switchable failures. */
export class MemoryLeaseStore implements LeaseStore {
  readonly description = 'memory/lease';
  record: LeaseRecord | undefined;
  version = 0;
  /** 'fail' rejects every call; 'hang' never answers. */
  mode: 'ok' | 'fail' | 'hang' = 'ok';

  async get() {
    await this.#gate();
    return this.record ? { record: { ...this.record }, version: String(this.version) } : undefined;
  }

  async create(record: LeaseRecord) {
    await this.#gate();
    if (this.record) throw Object.assign(new Error('exists'), { code: 409 });
    this.record = { ...record };
    return String(++this.version);
  }

  async update(record: LeaseRecord, version: string) {
    await this.#gate();
    if (version !== String(this.version)) throw Object.assign(new Error('conflict'), { code: 409 });
    this.record = { ...record };
    return String(++this.version);
  }

  #gate(): Promise<void> {
    if (this.mode === 'fail') return Promise.reject(new Error('API server unreachable'));
    if (this.mode === 'hang') return new Promise(() => {});
    return Promise.resolve();
  }
}

/**
 * A client for a Manager whose every API access is faked (list/watch client, lease store): it
 * points nowhere, and a request through it fails at once (connection refused).
 */
export function unusedKube(): KubeClient {
  return new KubeClient({
    server: 'http://127.0.0.1:1',
    cluster: { server: 'http://127.0.0.1:1' },
    user: {},
    namespace: undefined,
    source: { kind: 'in-cluster' },
    needsFallback: undefined,
  });
}
