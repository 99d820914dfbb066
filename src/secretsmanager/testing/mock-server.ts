/**
 * A scriptable stand-in for IAM and a Secrets Manager instance on undici's MockAgent (no
 * socket). It issues IAM and Vault tokens, checks them on every call, and routes everything
 * else to handlers a test registers; later registrations win. It records every request.
 */
import { MockAgent } from 'undici';

export const SM_URL =
  'https://0f4c764e-dc3d-44d1-bd60-a2f7cd91e0c0.us-south.secrets-manager.appdomain.cloud';
export const IAM_URL = 'https://iam.example.test';
export const API_KEY = 'ak-STORE-KEY-9f8e7d6c5b4a39281706';

export interface MockRequest {
  origin: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface MockReply {
  status: number;
  body?: unknown;
  /** The body exactly as sent (not JSON-encoded): broken JSON, HTML, truncated text. */
  raw?: string;
  headers?: Record<string, string>;
}

export type Handler = (req: MockRequest) => MockReply | Promise<MockReply>;

interface Route {
  origin: string;
  method: string;
  path: string | RegExp;
  handler: Handler;
}

/** Vault's envelope around `data`. */
export function vaultEnvelope(data: unknown, extra: Record<string, unknown> = {}) {
  return {
    request_id: 'd9a41bfe-b8ba-8709-f1be-6dbdbc305e07',
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: null,
    auth: null,
    ...extra,
  };
}

function normalizeHeaders(h: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  if (Array.isArray(h)) {
    for (let i = 0; i + 1 < h.length; i += 2) out[String(h[i]).toLowerCase()] = String(h[i + 1]);
    return out;
  }
  if (typeof (h as Headers).forEach === 'function' && !(h.constructor === Object)) {
    (h as Headers).forEach((v, k) => {
      out[k.toLowerCase()] = v;
    });
    return out;
  }
  for (const [k, v] of Object.entries(h as Record<string, unknown>)) {
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

export class MockSecretsManager {
  readonly agent = new MockAgent();
  readonly requests: MockRequest[] = [];
  readonly #routes: Route[] = [];
  #iamSeq = 0;
  #vaultSeq = 0;
  /** Tokens the fake servers currently accept. */
  readonly validIamTokens = new Set<string>();
  readonly validVaultTokens = new Set<string>();
  iamTokenTtlSeconds = 3600;
  vaultTokenTtlSeconds = 3600;

  constructor() {
    this.agent.disableNetConnect();
    for (const origin of [SM_URL, IAM_URL]) {
      this.agent
        .get(origin)
        .intercept({ path: () => true, method: () => true })
        .reply(async (opts) => {
          const req: MockRequest = {
            origin,
            method: opts.method,
            path: opts.path,
            headers: normalizeHeaders(opts.headers),
            body: typeof opts.body === 'string' ? opts.body : opts.body ? String(opts.body) : '',
          };
          this.requests.push(req);
          const reply = await this.#dispatch(req);
          return {
            statusCode: reply.status,
            data: reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body)),
            responseOptions: {
              headers: { 'content-type': 'application/json', ...(reply.headers ?? {}) },
            },
          };
        })
        .persist();
    }
    this.on(IAM_URL, 'POST', '/identity/token', (req) => this.issueIamToken(req));
    this.on(SM_URL, 'PUT', '/v1/auth/ibmcloud/login', (req) => this.login(req));
  }

  /** Registers a handler; the most recent matching one answers. */
  on(origin: string, method: string, path: string | RegExp, handler: Handler): this {
    this.#routes.unshift({ origin, method, path, handler });
    return this;
  }

  /** A Vault GET that requires a valid Vault token. */
  vaultGet(path: string | RegExp, handler: Handler): this {
    return this.on(SM_URL, 'GET', path, (req) => this.requireVault(req) ?? handler(req));
  }

  /** Number of recorded requests matching method and path (exact string or regexp). */
  count(method: string, path: string | RegExp): number {
    return this.requests.filter((r) => r.method === method && matches(path, r.path)).length;
  }

  issueIamToken(req: MockRequest): MockReply {
    const form = new URLSearchParams(req.body);
    if (form.get('grant_type') !== 'urn:ibm:params:oauth:grant-type:apikey') {
      return { status: 400, body: { errorCode: 'BXNIM0109E', errorMessage: 'bad grant' } };
    }
    if (form.get('apikey') !== API_KEY) {
      return {
        status: 400,
        body: {
          errorCode: 'BXNIM0415E',
          errorMessage: 'Provided API key could not be found.',
          context: { requestId: 'x' },
        },
      };
    }
    const token = `iam-token-${++this.#iamSeq}-eyJhbGciOiJIUzI1NiJ9`;
    this.validIamTokens.add(token);
    return {
      status: 200,
      body: {
        access_token: token,
        refresh_token: 'not-used',
        token_type: 'Bearer',
        expires_in: this.iamTokenTtlSeconds,
        expiration: Math.floor(Date.now() / 1000) + this.iamTokenTtlSeconds,
      },
    };
  }

  login(req: MockRequest): MockReply {
    let token: unknown;
    try {
      token = (JSON.parse(req.body) as { token?: unknown }).token;
    } catch {
      return { status: 400, body: { errors: ['invalid request'] } };
    }
    if (typeof token !== 'string' || !this.validIamTokens.has(token)) {
      return { status: 400, body: { errors: ['invalid IAM token'] } };
    }
    const client = `hvs.vault-token-${++this.#vaultSeq}`;
    this.validVaultTokens.add(client);
    return {
      status: 200,
      body: vaultEnvelope(null, {
        auth: {
          client_token: client,
          accessor: 'acc',
          policies: ['default'],
          lease_duration: this.vaultTokenTtlSeconds,
          renewable: true,
        },
      }),
    };
  }

  /** A 403 reply when the request's Vault token is not accepted, else undefined. */
  requireVault(req: MockRequest): MockReply | undefined {
    const t = req.headers['x-vault-token'];
    if (t && this.validVaultTokens.has(t)) return undefined;
    return { status: 403, body: { errors: ['permission denied'] } };
  }

  /** A 401 reply when the request's bearer IAM token is not accepted, else undefined. */
  requireIam(req: MockRequest): MockReply | undefined {
    const t = req.headers.authorization?.replace(/^Bearer /, '');
    if (t && this.validIamTokens.has(t)) return undefined;
    return { status: 401, body: { errorCode: 'BXNIM0508E', errorMessage: 'token expired' } };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async #dispatch(req: MockRequest): Promise<MockReply> {
    const pathOnly = req.path.split('?')[0] ?? req.path;
    for (const r of this.#routes) {
      if (r.origin === req.origin && r.method === req.method && matches(r.path, pathOnly)) {
        return r.handler(req);
      }
    }
    return { status: 403, body: { errors: ['permission denied'] } };
  }
}

function matches(pattern: string | RegExp, path: string): boolean {
  return typeof pattern === 'string' ? pattern === path : pattern.test(path);
}

/** A promise with its resolve exposed, to hold a reply until the test releases it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
