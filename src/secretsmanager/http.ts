/**
 * One HTTP exchange with Secrets Manager or IAM over undici: admission (rate and concurrency
 * limits), a clock-driven timeout, metrics, and the mapping of transport failures and HTTP
 * statuses to typed errors. Retries, tokens and coalescing live above this layer.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { z } from 'zod';
import { type Dispatcher, requestUrl } from '../runtime/undici.ts';
import type { Clock } from './clock.ts';
import {
  abortedError,
  type ErrorCode,
  SecretsManagerError,
  safeCause,
  safeServerText,
} from './errors.ts';
import type { Semaphore, TokenBucket } from './limiter.ts';
import type { SecretsManagerMetrics } from './metrics.ts';
import { parseRetryAfter } from './retry.ts';
import { IamErrorBodySchema, VaultErrorBodySchema } from './types.ts';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface SendOptions {
  operation: string;
  method: Method;
  url: string;
  headers: Record<string, string>;
  body?: string;
  /** Admission for requests to the store's instance (not applied to IAM). */
  gate?: { bucket?: TokenBucket | undefined; semaphore?: Semaphore | undefined };
  /** The caller's cancellation: aborts the request (error code `Aborted`). */
  signal?: AbortSignal | undefined;
}

export interface TransportOptions {
  dispatcher: Dispatcher;
  clock: Clock;
  timeoutMs: number;
  metrics: SecretsManagerMetrics;
  /** Strings that must never appear in an error: the API key and the current tokens. */
  secrets: () => Iterable<string | undefined>;
  maxBodyBytes?: number;
}

// Errors that happen before a single byte reaches the server: safe to retry even for calls
// that are not idempotent.
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// Certificate verification failures: retrying cannot help, the configuration must change.
const TLS_CODE =
  /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED_CERT|HOSTNAME_MISMATCH)/;

const TIMEOUT = Symbol('request timeout');

export class Transport {
  readonly #o: TransportOptions;
  readonly #maxBody: number;

  constructor(o: TransportOptions) {
    this.#o = o;
    this.#maxBody = o.maxBodyBytes ?? 8 * 1024 * 1024;
  }

  async send(s: SendOptions): Promise<HttpResponse> {
    if (s.signal?.aborted) throw abortedError(s.operation);
    await s.gate?.bucket?.take();
    const release = (await s.gate?.semaphore?.acquire()) ?? (() => {});
    if (s.signal?.aborted) {
      release();
      throw abortedError(s.operation);
    }
    const { clock, metrics } = this.#o;
    const started = clock.now();
    const ac = new AbortController();
    const onCallerAbort = () => ac.abort(new Error('cancelled by the caller'));
    s.signal?.addEventListener('abort', onCallerAbort, { once: true });
    let timedOut = false;
    let cancelTimer = () => {};
    // Raced rather than trusted to the dispatcher alone, so a stuck body read times out too.
    const timeout = new Promise<never>((_, reject) => {
      cancelTimer = clock.setTimeout(() => {
        timedOut = true;
        ac.abort(new Error('request timeout'));
        reject(TIMEOUT);
      }, this.#o.timeoutMs);
    });
    timeout.catch(() => {});
    let status = 'network_error';
    try {
      const exchange = (async () => {
        const res = await requestUrl(this.#o.dispatcher, s.url, {
          method: s.method,
          headers: s.headers,
          body: s.body ?? null,
          signal: ac.signal,
        });
        const text = await this.#readBody(res.body, s.operation);
        return { status: res.statusCode, headers: res.headers, text };
      })();
      exchange.catch(() => {}); // it may lose the race and reject later
      const res = await Promise.race([exchange, timeout]);
      status = String(res.status);
      return res;
    } catch (e) {
      if (e instanceof SecretsManagerError) throw e;
      if (s.signal?.aborted && !timedOut) {
        status = 'aborted';
        throw abortedError(s.operation);
      }
      if (timedOut) {
        status = 'timeout';
        throw new SecretsManagerError(
          'Timeout',
          `${s.operation}: no response from ${hostOf(s.url)} within ${this.#o.timeoutMs} ms; the request may be retried`,
          { operation: s.operation },
        );
      }
      const cause = safeCause(e, this.#o.secrets());
      if (cause.code !== undefined && TLS_CODE.test(cause.code)) {
        throw new SecretsManagerError(
          'Unavailable',
          `${s.operation}: the TLS certificate of ${hostOf(s.url)} is not trusted (${cause.code}); for a private endpoint set the store's caBundle to the CA that signed it`,
          { operation: s.operation, notSent: true, retryable: false, cause },
        );
      }
      const notSent = cause.code !== undefined && NOT_SENT_CODES.has(cause.code);
      throw new SecretsManagerError(
        'Unavailable',
        `${s.operation}: cannot reach ${hostOf(s.url)} (${cause.code ?? cause.name}); check the URL, DNS and network policy`,
        { operation: s.operation, notSent, cause },
      );
    } finally {
      s.signal?.removeEventListener('abort', onCallerAbort);
      cancelTimer();
      release();
      metrics.requests.inc({ operation: s.operation, status });
      metrics.requestDuration.observe(
        { operation: s.operation },
        Math.max(0, clock.now() - started) / 1000,
      );
    }
  }

  async #readBody(body: Dispatcher.ResponseData['body'], operation: string): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > this.#maxBody) {
        body.destroy();
        throw new SecretsManagerError(
          'InvalidResponse',
          `${operation}: response larger than ${this.#maxBody} bytes`,
          { operation },
        );
      }
      chunks.push(buf);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the server';
  }
}

/** The server's own words from a Vault (`errors`) or IAM (`errorCode`, `errorMessage`) body. */
export function serverMessage(text: string): { message?: string; errorCode?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  const vault = VaultErrorBodySchema.safeParse(body);
  // Vault's errors are strings. Anything else is left out: String() throws on a parsed object
  // such as {"toString": 1}, and an object may hold what must not reach a message.
  const errors = vault.success ? vault.data.errors.filter((x) => typeof x === 'string') : [];
  if (errors.length > 0) return { message: errors.join('; ') };
  const iam = IamErrorBodySchema.safeParse(body);
  if (iam.success && (iam.data.errorCode || iam.data.errorMessage)) {
    return {
      ...(iam.data.errorMessage ? { message: iam.data.errorMessage } : {}),
      ...(iam.data.errorCode ? { errorCode: iam.data.errorCode } : {}),
    };
  }
  return {};
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  NotFound: 'check the secret type, its ID or name, and its secret group',
  Forbidden:
    "the store's API key lacks access: give its service ID the SecretsReader role (or higher) on the secret group",
  Unauthenticated: "check the store's API key or trusted profile",
  RateLimited: 'Secrets Manager is rate limiting; lower the store rateLimit or refresh less often',
  Unavailable: 'Secrets Manager is unavailable; it will be retried',
  InvalidRequest: 'check the reference',
};

function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 409 || status === 422) return 'InvalidRequest';
  if (status === 401) return 'Unauthenticated';
  if (status === 403) return 'Forbidden';
  if (status === 404) return 'NotFound';
  if (status === 408) return 'Timeout';
  if (status === 429) return 'RateLimited';
  if (status >= 500) return 'Unavailable';
  return 'InvalidRequest';
}

/** Maps a non-2xx response to a typed error with a message that says what to do. */
export function errorForResponse(
  res: HttpResponse,
  ctx: { operation: string; target?: string; now: number; secrets: Iterable<string | undefined> },
): SecretsManagerError {
  const code = codeForStatus(res.status);
  const server = serverMessage(res.text);
  const secrets = [...ctx.secrets];
  const said = server.message ? `: ${safeServerText(server.message, secrets)}` : '';
  const errorCode = server.errorCode ? ` (${safeServerText(server.errorCode, secrets)})` : '';
  const target = ctx.target ? ` ${ctx.target}` : '';
  const hint = HINTS[code] ? `; ${HINTS[code]}` : '';
  const retryAfterMs =
    code === 'RateLimited' || code === 'Unavailable'
      ? parseRetryAfter(res.headers['retry-after'], ctx.now)
      : undefined;
  return new SecretsManagerError(
    code,
    `${ctx.operation}${target}: HTTP ${res.status}${errorCode}${said}${hint}`,
    {
      status: res.status,
      operation: ctx.operation,
      retryable:
        code === 'RateLimited' ||
        code === 'Timeout' ||
        (code === 'Unavailable' && res.status !== 501),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    },
  );
}

/** Parses a JSON body with a schema; a mismatch names the fields, never their values. */
export function parseBody<S extends z.ZodType>(
  res: HttpResponse,
  schema: S,
  operation: string,
): z.infer<S> {
  let json: unknown;
  try {
    json = JSON.parse(res.text);
  } catch {
    throw new SecretsManagerError('InvalidResponse', `${operation}: response is not JSON`, {
      status: res.status,
      operation,
    });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const fields = parsed.error.issues
      .slice(0, 5)
      .map((i) => `${i.path.map(String).join('.') || '(root)'} (${i.code})`)
      .join(', ');
    throw new SecretsManagerError(
      'InvalidResponse',
      `${operation}: unexpected response shape at ${fields}; is the URL a Secrets Manager instance?`,
      { status: res.status, operation },
    );
  }
  return parsed.data;
}
