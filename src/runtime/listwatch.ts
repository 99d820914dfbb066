import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import { KubeHttpError } from './errors.ts';
import { METADATA_ACCEPT } from './kubeapi.ts';
import type { KubeClient } from './kubeclient.ts';
import { withoutManagedFields } from './managedfields.ts';

/**
 * Raw LIST and WATCH requests against the API server. client-node's `Watch` cannot send an
 * `Accept` header, which metadata-only watching needs, and hides the HTTP status of a failed
 * watch; so the informer talks HTTP here, with the kubeconfig's own authentication and TLS.
 */

/** A kind of object the informer lists and watches. */
export interface ResourceType {
  /** API group; '' for the core group. */
  group: string;
  version: string;
  /** Lower-case plural, as in the URL (`secrets`, `externalsecrets`). */
  plural: string;
  namespaced: boolean;
}

/** `/api/v1/namespaces/ns/secrets`, `/apis/g/v/plural` (all namespaces or cluster-scoped). */
export function resourcePath(type: ResourceType, namespace?: string): string {
  const base = type.group === '' ? `/api/${type.version}` : `/apis/${type.group}/${type.version}`;
  if (type.namespaced && namespace) {
    return `${base}/namespaces/${encodeURIComponent(namespace)}/${type.plural}`;
  }
  return `${base}/${type.plural}`;
}

export function resourceName(type: ResourceType): string {
  return type.group === '' ? type.plural : `${type.plural}.${type.group}`;
}

/** Ask for `PartialObjectMetadata`: the API server strips everything but `metadata`. */
export const METADATA_LIST_ACCEPT =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const METADATA_WATCH_ACCEPT = METADATA_ACCEPT;

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  object: unknown;
}

/** One page of a LIST; every page of one list carries the list's resourceVersion. */
export interface ListPage {
  items: unknown[];
  resourceVersion: string;
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  metadataOnly?: boolean;
  /** Objects per page (`limit`); default 500, as client-go's pager. */
  pageSize?: number;
  signal: AbortSignal;
}

export interface WatchOptions extends ListOptions {
  resourceVersion: string;
  /** The server closes the watch after this many seconds. */
  timeoutSeconds: number;
}

/** What the informer needs from the API server; tests hand in a fake. */
export interface ListWatchClient {
  /**
   * Lists page by page (`limit`/`continue`), so a caller holds one page at a time, never the
   * whole collection. Throws `KubeHttpError` on an HTTP error: 410 `Expired` when a continue
   * token outlived etcd's compaction (the caller lists again from the start).
   */
  list(path: string, options: ListOptions): AsyncIterable<ListPage>;
  /** Streams watch events until the server closes the watch; throws on errors. */
  watch(path: string, options: WatchOptions): AsyncIterable<WatchEvent>;
}

const listPage = z.object({
  metadata: z
    .object({ resourceVersion: z.string().optional(), continue: z.string().optional() })
    .optional(),
  items: z.array(z.unknown()).nullish(),
});

const watchEvent = z.object({
  type: z.enum(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']),
  object: z.unknown(),
});

const statusBody = z.object({
  reason: z.string().optional(),
  message: z.string().optional(),
  code: z.number().optional(),
});

export const DEFAULT_PAGE_SIZE = 500;
/** One page of a LIST, headers to last byte. */
const LIST_TIMEOUT_MS = 60_000;

/** The API server, through the kubeconfig's authentication. */
export class KubeListWatchClient implements ListWatchClient {
  readonly #kube: KubeClient;

  constructor(kube: KubeClient) {
    this.#kube = kube;
  }

  async *list(path: string, options: ListOptions): AsyncIterable<ListPage> {
    let cont: string | undefined;
    do {
      const query: Record<string, string> = {
        limit: String(options.pageSize ?? DEFAULT_PAGE_SIZE),
      };
      if (cont) query.continue = cont;
      if (options.labelSelector) query.labelSelector = options.labelSelector;
      if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
      const accept = options.metadataOnly ? METADATA_LIST_ACCEPT : 'application/json';
      const { response, close } = await this.#get(path, query, accept, options.signal, true);
      let page: z.infer<typeof listPage>;
      try {
        if (response.status !== 200) throw await httpError('list', path, response);
        page = listPage.parse(JSON.parse(withoutManagedFields(await response.body.text())));
      } finally {
        close();
      }
      cont = page.metadata?.continue || undefined;
      yield { items: page.items ?? [], resourceVersion: page.metadata?.resourceVersion ?? '' };
    } while (cont);
  }

  async *watch(path: string, options: WatchOptions): AsyncIterable<WatchEvent> {
    const query: Record<string, string> = {
      watch: 'true',
      allowWatchBookmarks: 'true',
      resourceVersion: options.resourceVersion,
      timeoutSeconds: String(options.timeoutSeconds),
    };
    if (options.labelSelector) query.labelSelector = options.labelSelector;
    if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
    const accept = options.metadataOnly ? METADATA_WATCH_ACCEPT : 'application/json';
    // No client timeout: the informer restarts a watch silent past its server-side timeout.
    const { response, close } = await this.#get(path, query, accept, options.signal, false);
    try {
      if (response.status !== 200) throw await httpError('watch', path, response);
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line !== '') yield watchEvent.parse(JSON.parse(withoutManagedFields(line)));
        }
      }
    } finally {
      close();
    }
  }

  async #get(
    path: string,
    query: Record<string, string>,
    accept: string,
    signal: AbortSignal,
    bounded: boolean,
  ) {
    const response = await this.#kube.stream('GET', path, {
      query,
      accept,
      signal,
      timeoutMs: bounded ? LIST_TIMEOUT_MS : 0,
    });
    // The connection pool is shared: a body not read to its end is destroyed, which closes its
    // connection rather than hand the pool one with half an answer on it.
    const close = () => {
      if (!response.body.readableEnded) response.body.destroy();
    };
    return { response, close };
  }
}

async function httpError(
  verb: string,
  path: string,
  response: { status: number; body: { text(): Promise<string> } },
): Promise<KubeHttpError> {
  let reason: string | undefined;
  let detail = STATUS_CODES[response.status] ?? '';
  try {
    const status = statusBody.safeParse(JSON.parse(await response.body.text()));
    if (status.success) {
      reason = status.data.reason;
      detail = status.data.message ?? detail;
    }
  } catch {
    // Not a Status body; the HTTP status says enough.
  }
  return new KubeHttpError(
    response.status,
    reason,
    `${verb} ${path}: HTTP ${response.status}: ${detail}`,
  );
}
