// HTTP to the API server: plain JSON in and out (no model classes), the kubeconfig's TLS and
// credentials, one keep-alive connection pool per TLS configuration, and a timeout on every
// request. Credentials only client-node implements come from kube-fallback.ts, loaded on demand.
import { readFileSync } from 'node:fs';
import { KubeHttpError } from './errors.ts';
import {
  AppsApi,
  CoordinationApi,
  CoreApi,
  CustomObjectsApi,
  type KubeRequester,
  type RequestOptions,
} from './kubeapi.ts';
import type { AuthSource, LoadedKubeConfig, RequestAuth } from './kubeconfig.ts';
import { withoutManagedFields } from './managedfields.ts';
import { Agent, type Dispatcher, type ResponseData, request } from './undici.ts';

export interface KubeClientOptions {
  /** Per request, headers to body (default 30 s). */
  timeoutMs?: number;
  /** How long a credential or certificate file read is reused (default 60 s, as client-go). */
  fileTtlMs?: number;
  now?: () => number;
}

/** An answer whose body the caller reads: `text()`, or chunk by chunk as an async iterable. */
export interface StreamedResponse {
  status: number;
  body: ResponseData['body'];
}

const DEFAULT_TIMEOUT_MS = 30_000;
const FILE_TTL_MS = 60_000;
const USER_AGENT = 'secrets-manager-operator';

/** A request that got no complete answer in time. */
export class KubeTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(message: string) {
    super(message);
    this.name = 'KubeTimeoutError';
  }
}

/** Reads a file at most once per `ttlMs`: rotated tokens and certificates are picked up. */
class FileCache {
  readonly #entries = new Map<string, { text: string; at: number }>();
  readonly ttlMs: number;
  readonly now: () => number;

  constructor(ttlMs: number, now: () => number) {
    this.ttlMs = ttlMs;
    this.now = now;
  }

  read(path: string): string {
    const entry = this.#entries.get(path);
    const now = this.now();
    if (entry && now - entry.at < this.ttlMs) return entry.text;
    const text = readFileSync(path, 'utf8');
    this.#entries.set(path, { text, at: now });
    return text;
  }
}

/** Token, basic auth and client certificates from the kubeconfig, as kubectl reads them. */
export class NativeAuth implements AuthSource {
  readonly #config: LoadedKubeConfig;
  readonly #files: FileCache;
  #agent: { key: string; sources: Array<string | undefined>; agent: Agent } | undefined;

  constructor(config: LoadedKubeConfig, files: { ttlMs: number; now: () => number }) {
    this.#config = config;
    this.#files = new FileCache(files.ttlMs, files.now);
  }

  async auth(): Promise<RequestAuth> {
    return { headers: this.headers(), dispatcher: this.dispatcher() };
  }

  headers(): Record<string, string> {
    const user = this.#config.user;
    if (user.token) return { Authorization: `Bearer ${user.token}` };
    if (user.tokenFile) {
      const token = this.#files.read(user.tokenFile).trim();
      if (token !== '') return { Authorization: `Bearer ${token}` };
    }
    if (user.username !== undefined && user.password !== undefined) {
      const basic = Buffer.from(`${user.username}:${user.password}`).toString('base64');
      return { Authorization: `Basic ${basic}` };
    }
    return {};
  }

  /** The pool for the current TLS material; a rotated CA or certificate gets a new pool. */
  dispatcher(): Dispatcher {
    const { cluster, user } = this.#config;
    // What the material is made from: the kubeconfig's data, or the files' text as last read
    // (the file cache hands back the same string until a re-read). Compared by identity on
    // every request; decoded only when something changed.
    const sources = [
      cluster['certificate-authority-data'] ?? this.#file(cluster['certificate-authority']),
      user['client-certificate-data'] ?? this.#file(user['client-certificate']),
      user['client-key-data'] ?? this.#file(user['client-key']),
    ];
    const last = this.#agent;
    if (last && sources.every((source, i) => source === last.sources[i])) return last.agent;
    const ca = this.#material(
      cluster['certificate-authority-data'],
      cluster['certificate-authority'],
    );
    const cert = this.#material(user['client-certificate-data'], user['client-certificate']);
    const key = this.#material(user['client-key-data'], user['client-key']);
    const id = JSON.stringify([ca, cert, key]);
    if (last?.key === id) {
      last.sources = sources;
      return last.agent;
    }
    const previous = this.#agent?.agent;
    const agent = new Agent({
      connect: {
        ...(ca !== undefined ? { ca } : {}),
        ...(cert !== undefined ? { cert } : {}),
        ...(key !== undefined ? { key } : {}),
        ...(cluster['insecure-skip-tls-verify'] === true ? { rejectUnauthorized: false } : {}),
        ...(cluster['tls-server-name'] ? { servername: cluster['tls-server-name'] } : {}),
        keepAlive: true,
        keepAliveInitialDelay: 30_000,
      },
      // HTTP/1.1 keep-alive connections, not one HTTP/2 connection: Node's HTTP/2 stack cost the
      // operator ~10% more CPU per first sync at 10,000 resources (bench:memory, 36-39 s vs
      // 34.8 s), and each watch simply holds a connection of its own.
      allowH2: false,
    });
    this.#agent = { key: id, sources, agent };
    // Requests in flight on the old pool finish; it closes after them.
    previous?.close().catch(() => {});
    return agent;
  }

  #file(path: string | undefined): string | undefined {
    return path ? this.#files.read(path) : undefined;
  }

  #material(data: string | undefined, file: string | undefined): string | undefined {
    if (data) return Buffer.from(data, 'base64').toString('utf8');
    if (file) return this.#files.read(file);
    return undefined;
  }

  async close(): Promise<void> {
    await this.#agent?.agent.close().catch(() => {});
    this.#agent = undefined;
  }
}

/** The API server, through the loaded kubeconfig. */
export class KubeClient implements KubeRequester {
  readonly config: LoadedKubeConfig;
  readonly core: CoreApi = new CoreApi(this);
  readonly apps: AppsApi = new AppsApi(this);
  readonly coordination: CoordinationApi = new CoordinationApi(this);
  readonly custom: CustomObjectsApi = new CustomObjectsApi(this);
  readonly #timeoutMs: number;
  readonly #fileTtlMs: number;
  readonly #now: () => number;
  #auth: Promise<AuthSource> | undefined;
  #base: URL | undefined;

  constructor(config: LoadedKubeConfig, options: KubeClientOptions = {}) {
    this.config = config;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fileTtlMs = options.fileTtlMs ?? FILE_TTL_MS;
    this.#now = options.now ?? Date.now;
  }

  /** The API server URL. */
  get server(): string {
    return this.config.server;
  }

  /** The credentials source, created on the first request. */
  authSource(): Promise<AuthSource> {
    this.#auth ??= this.#createAuth();
    return this.#auth;
  }

  async #createAuth(): Promise<AuthSource> {
    if (this.config.needsFallback === undefined) {
      return new NativeAuth(this.config, { ttlMs: this.#fileTtlMs, now: this.#now });
    }
    // Only for exec plugins, auth providers and proxies: client-node is imported here, once.
    const { clientNodeAuth } = await import('./kube-fallback.ts');
    return clientNodeAuth(this.config);
  }

  /**
   * Sends one request and hands back the answer as it arrives (status unchecked), for callers
   * that stream it (watch) or read it themselves (list pages). The caller must read the body to
   * its end or destroy it: the connection goes back to the pool only then.
   */
  async stream(method: string, path: string, o: RequestOptions = {}): Promise<StreamedResponse> {
    const { origin, full, dispatcher, headers } = await this.#prepare(method, path, o);
    const timeoutMs = o.timeoutMs ?? this.#timeoutMs;
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
    const signals = [o.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
    const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
    try {
      const res = await request(dispatcher, {
        origin,
        path: full,
        method: method as Dispatcher.HttpMethod,
        headers,
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        ...(signal ? { signal } : {}),
        // Bounded by the signal above, or not at all (a watch is quiet for minutes).
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      return { status: res.statusCode, body: res.body };
    } catch (err) {
      throw timedOut(err, timeout, method, path, timeoutMs);
    }
  }

  /**
   * A JSON request; throws `KubeHttpError` (code, Status reason and message) unless 2xx. No
   * WHATWG Request, Headers or stream objects per call: most of a sync's client-side cost when
   * thousands of them run.
   */
  async request<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const { origin, full, dispatcher, headers } = await this.#prepare(method, path, o);
    const timeoutMs = o.timeoutMs ?? this.#timeoutMs;
    let status: number;
    let text: string;
    try {
      const res = await request(dispatcher, {
        origin,
        path: full,
        method: method as Dispatcher.HttpMethod,
        headers,
        ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        // No answer, or a stalled body, within the timeout: KubeTimeoutError.
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new KubeTimeoutError(
          `${method} ${path}: no answer from the API server in ${timeoutMs} ms`,
        );
      }
      throw err;
    }
    if (status < 200 || status >= 300) throw statusError(status, text);
    return (text === '' ? undefined : JSON.parse(withoutManagedFields(text))) as T;
  }

  /** The request's path below the server URL (query included), credentials and pool. */
  async #prepare(method: string, path: string, o: RequestOptions) {
    let target = path;
    let sep = path.includes('?') ? '&' : '?';
    for (const [k, v] of Object.entries(o.query ?? {})) {
      if (v === undefined) continue;
      target += `${sep}${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`;
      sep = '&';
    }
    this.#base ??= new URL(this.config.server);
    const base = this.#base;
    // A server URL may carry a path (an API proxy): requests go below it.
    const full = base.pathname.replace(/\/$/, '') + target;
    const source = await this.authSource();
    // A string, not a URL object: only client-node's fallback reads it, and a URL parsed for
    // every request was garbage for every other.
    const { headers, dispatcher } = await source.auth(base.origin + full, method);
    return { origin: base.origin, full, dispatcher, headers: requestHeaders(headers, o) };
  }

  async close(): Promise<void> {
    if (this.#auth) await (await this.#auth).close();
  }
}

/** The credentials' headers and what every request says of itself and its body. */
function requestHeaders(auth: Record<string, string>, o: RequestOptions): Record<string, string> {
  return {
    ...auth,
    'user-agent': USER_AGENT,
    accept: o.accept ?? 'application/json',
    ...(o.body !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}),
  };
}

function timedOut(
  err: unknown,
  timeout: AbortSignal | undefined,
  method: string,
  path: string,
  ms: number,
): unknown {
  if (timeout?.aborted) {
    return new KubeTimeoutError(`${method} ${path}: no answer from the API server in ${ms} ms`);
  }
  return err;
}

/**
 * The error for a non-2xx answer: the HTTP code and the Status `reason`/`message` only, never the
 * raw body or headers.
 */
export function statusError(code: number, body: string): KubeHttpError {
  let reason: string | undefined;
  let message: string | undefined;
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown };
    if (typeof status.reason === 'string' && status.reason !== '') reason = status.reason;
    if (typeof status.message === 'string' && status.message !== '') message = status.message;
  } catch {
    // Not a Status body; the code says enough.
  }
  const text = [reason, message].filter((p) => p !== undefined).join(': ');
  return new KubeHttpError(code, reason, text || `Kubernetes API answered HTTP ${code}`);
}
