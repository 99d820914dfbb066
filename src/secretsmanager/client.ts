/**
 * The Secrets Manager client controllers use: a small interface (so tests can hand in a fake or
 * point it at the emulator) and its implementation on undici over the Vault API.
 */

import { Registry } from 'prom-client';
import { Agent, type Dispatcher } from '../runtime/undici.ts';
import { type Clock, systemClock } from './clock.ts';
import { SingleFlight } from './coalesce.ts';
import { abortedError, isNotFound, isSecretsManagerError, SecretsManagerError } from './errors.ts';
import {
  errorForResponse,
  type HttpResponse,
  type Method,
  parseBody,
  type SendOptions,
  Transport,
} from './http.ts';
import { type IamCredential, IamTokenSource, type TrustedProfileCredential } from './iam.ts';
import { type RateLimit, Semaphore, TokenBucket } from './limiter.ts';
import {
  createSecretsManagerMetrics,
  detachedMetrics,
  type SecretsManagerMetrics,
} from './metrics.ts';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, retryReason, withRetry } from './retry.ts';
import {
  envelope,
  type IamCredentials,
  IamCredentialsDataSchema,
  ListSecretsDataSchema,
  type RemoteSecret,
  SECRET_TYPES,
  SecretDataSchema,
  type SecretMetadata,
  SecretMetadataDataSchema,
  type SecretRef,
  type SecretType,
  toIamCredentials,
  toMetadata,
  toRemoteSecret,
} from './types.ts';
import {
  DEFAULT_IAM_URL,
  LEASE_REVOKE_PATH,
  listPath,
  metadataPath,
  normalizeBaseUrl,
  secretPath,
  secretVersionDataPath,
  secretVersionPath,
  serviceIdPath,
} from './urls.ts';
import { VaultSession } from './vault.ts';
import {
  checkVersion,
  isVersioned,
  missingVersion,
  SecretVersionSchema,
  versionToRemoteSecret,
} from './versions.ts';

export interface ListFilter {
  type?: SecretType;
  /** A secret group ID; omitted means every group, `default` only the default group. */
  group?: string;
  /** Every label listed must be on the secret. */
  labels?: string[];
  nameRegex?: RegExp;
}

/** A reference to an `iam_credentials` secret. */
export type IamCredentialsRef = Omit<SecretRef, 'type'> & { type?: 'iam_credentials' };

/**
 * Per-call options. `signal` cancels the caller's part: an aborted call rejects with code
 * `Aborted` and sends nothing more (a read shared with other callers goes on for them).
 */
export interface RequestOptions {
  signal?: AbortSignal | undefined;
}

// The Vault responses' schemas, each built once (zod compiles a schema at its first parse).
const GET_SECRET_BODY = envelope(SecretDataSchema);
const GET_SECRET_METADATA_BODY = envelope(SecretMetadataDataSchema);
const LIST_SECRETS_BODY = envelope(ListSecretsDataSchema);
const GET_IAM_CREDENTIALS_BODY = envelope(IamCredentialsDataSchema);

export interface SecretsManagerClient {
  /**
   * Proves the store works: an IAM exchange and a Vault login. With `fresh` both are done
   * anew; without, a still-valid cached login counts (so validating often costs nothing).
   */
  validate(opts?: { fresh?: boolean } & RequestOptions): Promise<void>;
  /** Reads a secret's value. For `iam_credentials` this mints a credential (never coalesced). */
  getSecret(ref: SecretRef, opts?: RequestOptions): Promise<RemoteSecret>;
  listSecrets(filter?: ListFilter, opts?: RequestOptions): Promise<SecretMetadata[]>;
  /** A secret's metadata (never its value; never mints a credential). */
  getSecretMetadata(ref: SecretRef, opts?: RequestOptions): Promise<SecretMetadata>;
  /** Reads `iam_credentials/creds`: a new API key per call unless the secret reuses keys. */
  getIamCredentials(ref: IamCredentialsRef, opts?: RequestOptions): Promise<IamCredentials>;
  /** `PUT /v1/sys/leases/revoke`: only for servers that hand out lease IDs. */
  revokeLease(leaseId: string, opts?: RequestOptions): Promise<void>;
  /** REST `DELETE /api/v2/secrets/{id}/versions/{version}/secret_data` with the IAM token. */
  deleteSecretVersionData(
    secretId: string,
    versionId: string,
    opts?: RequestOptions,
  ): Promise<void>;
  /** IAM Identity `DELETE /v1/serviceids/{id}`: deletes the service ID and its API keys. */
  deleteServiceId(serviceId: string, opts?: RequestOptions): Promise<void>;
  /** Releases connections the client owns. */
  close(): Promise<void>;
  /** How long a request made now would wait for the store's rate limit (ms), if known. */
  readonly backlogMs?: number;
  /** The store's rate limit (requests per second), if known. */
  readonly requestsPerSecond?: number;
}

export interface SecretsManagerClientOptions {
  /** The instance's Vault API base URL (see secretsManagerUrl). */
  url: string;
  iamUrl?: string;
  /** The API key exchanged at IAM; or, instead, `trustedProfile`. */
  apiKey?: string;
  /** A trusted profile and where its compute resource token comes from; or, instead, `apiKey`. */
  trustedProfile?: TrustedProfileCredential;
  /** PEM bundle trusted for both endpoints (private endpoints, the emulator over TLS). */
  caBundle?: string;
  /** Per-store limit on requests to the instance; default 20 qps, burst 40. */
  rateLimit?: RateLimit;
  /** Per-store limit on requests in flight to the instance; default 10. */
  concurrency?: number;
  clock?: Clock;
  random?: () => number;
  /** A registry to register the metrics on, or metrics already created on one. */
  metrics?: Registry | SecretsManagerMetrics;
  /**
   * Overrides the HTTP dispatcher (MockAgent in tests, a shared Agent in the pool); caBundle is
   * then ignored.
   */
  dispatcher?: Dispatcher;
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 20, burst: 40 };
export const DEFAULT_CONCURRENCY = 10;
export const DEFAULT_REQUEST_TIMEOUT_MS = 15_000;

type AuthKind = 'vault' | 'iam';

interface CallOptions {
  operation: string;
  method: Method;
  /** `sm`: the instance URL (rate limited); `iam`: the IAM URL. */
  base: 'sm' | 'iam';
  path: string;
  auth: AuthKind;
  body?: unknown;
  /** Human description of the target for messages (IDs and names only, never values). */
  target: string;
  /** `all`: retry any retryable failure; `notSent`: only when the server cannot have acted. */
  retry: 'all' | 'notSent';
  coalesce?: boolean;
  signal?: AbortSignal | undefined;
}

function resolveMetrics(m: SecretsManagerClientOptions['metrics']): SecretsManagerMetrics {
  if (!m) return detachedMetrics();
  if (m instanceof Registry) return createSecretsManagerMetrics(m);
  return m;
}

export function createSecretsManagerClient(o: SecretsManagerClientOptions): SecretsManagerClient {
  return new HttpSecretsManagerClient(o);
}

export class HttpSecretsManagerClient implements SecretsManagerClient {
  readonly #url: string;
  readonly #iamUrl: string;
  readonly #clock: Clock;
  readonly #metrics: SecretsManagerMetrics;
  readonly #ownedAgent: Agent | undefined;
  readonly #transport: Transport;
  readonly #iam: IamTokenSource;
  readonly #vault: VaultSession;
  readonly #retry: RetryPolicy;
  readonly #random: () => number;
  readonly #gate: NonNullable<SendOptions['gate']>;
  readonly #reads = new SingleFlight<HttpResponse>();

  constructor(o: SecretsManagerClientOptions) {
    let credential: IamCredential;
    if (o.trustedProfile) {
      if (o.apiKey !== undefined) {
        throw new SecretsManagerError(
          'InvalidRequest',
          'give either an API key or a trusted profile',
        );
      }
      credential = { trustedProfile: o.trustedProfile };
    } else {
      if (!o.apiKey) {
        throw new SecretsManagerError('InvalidRequest', "the store's API key is empty");
      }
      credential = { apiKey: o.apiKey };
    }
    this.#url = normalizeBaseUrl(o.url, 'url');
    this.#iamUrl = normalizeBaseUrl(o.iamUrl ?? DEFAULT_IAM_URL, 'iamUrl');
    this.#clock = o.clock ?? systemClock;
    this.#random = o.random ?? Math.random;
    this.#metrics = resolveMetrics(o.metrics);
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...o.retry };
    // An injected dispatcher (MockAgent, the pool's shared Agent) is the caller's to close.
    this.#ownedAgent = o.dispatcher
      ? undefined
      : new Agent(o.caBundle ? { connect: { ca: o.caBundle } } : {});
    const dispatcher = o.dispatcher ?? this.#ownedAgent!;
    this.#gate = {
      bucket: new TokenBucket(o.rateLimit ?? DEFAULT_RATE_LIMIT, this.#clock),
      semaphore: new Semaphore(o.concurrency ?? DEFAULT_CONCURRENCY),
    };
    this.#transport = new Transport({
      dispatcher,
      clock: this.#clock,
      timeoutMs: o.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      metrics: this.#metrics,
      secrets: () => this.#secrets(),
    });
    const shared = {
      transport: this.#transport,
      clock: this.#clock,
      random: this.#random,
      metrics: this.#metrics,
      retry: this.#retry,
    };
    this.#iam = new IamTokenSource({ ...shared, iamUrl: this.#iamUrl, credential });
    this.#vault = new VaultSession({ ...shared, url: this.#url, iam: this.#iam, gate: this.#gate });
  }

  get backlogMs(): number {
    return this.#gate.bucket?.backlogMs ?? 0;
  }

  get requestsPerSecond(): number | undefined {
    return this.#gate.bucket?.qps;
  }

  async validate(opts: { fresh?: boolean } & RequestOptions = {}): Promise<void> {
    // The login is shared by every caller of the store: a caller that gives up stops waiting.
    await untilAborted(
      opts.fresh ? this.#vault.fresh() : this.#vault.token(),
      opts.signal,
      'validate',
    );
  }

  async getSecret(ref: SecretRef, opts: RequestOptions = {}): Promise<RemoteSecret> {
    checkRef(ref);
    if (isVersioned(ref)) return this.#getVersion(ref, opts);
    if (ref.type === 'iam_credentials') {
      const { data, lease, receivedAt, target } = await this.#readCreds(ref, opts.signal);
      const secret = toRemoteSecret(data, lease, receivedAt);
      if (!secret) throw badTtl('get_secret', target);
      return secret;
    }
    const target = describe(ref);
    const res = await this.#call({
      operation: 'get_secret',
      method: 'GET',
      base: 'sm',
      path: secretPath(ref),
      auth: 'vault',
      target,
      retry: 'all',
      coalesce: true,
      signal: opts.signal,
    });
    const receivedAt = this.#clock.now();
    const body = parseBody(res, GET_SECRET_BODY, 'get_secret');
    if (body.data.secret_type !== ref.type) {
      throw new SecretsManagerError(
        'InvalidResponse',
        `get_secret ${target}: the server returned a ${body.data.secret_type} secret`,
        { operation: 'get_secret' },
      );
    }
    const secret = toRemoteSecret(body.data, leaseOf(body), receivedAt);
    if (!secret) throw badTtl('get_secret', target);
    return secret;
  }

  /** REST v2 read of `previous` or a version ID (the secret's ID first, when named). */
  async #getVersion(ref: SecretRef, opts: RequestOptions): Promise<RemoteSecret> {
    const { version: _v, ...current } = ref;
    const id = ref.id ?? (await this.getSecretMetadata(current, opts)).id;
    const target = `${describe(ref)} version ${ref.version}`;
    const res = await this.#call({
      operation: 'get_secret_version',
      method: 'GET',
      base: 'sm',
      path: secretVersionPath(id, ref.version as string),
      auth: 'iam',
      target,
      retry: 'all',
      coalesce: true,
      signal: opts.signal,
    }).catch(async (err: unknown) => {
      // A secret that exists without that version is a spec problem, not a deleted secret.
      if (!isNotFound(err)) throw err;
      await this.getSecretMetadata({ ...current, id, name: undefined }, opts);
      throw missingVersion(target);
    });
    const body = parseBody(res, SecretVersionSchema, 'get_secret_version');
    return versionToRemoteSecret(body, ref, target, this.#clock.now());
  }

  async getSecretMetadata(ref: SecretRef, opts: RequestOptions = {}): Promise<SecretMetadata> {
    checkRef(ref);
    const res = await this.#call({
      operation: 'get_secret_metadata',
      method: 'GET',
      base: 'sm',
      path: metadataPath(ref),
      auth: 'vault',
      target: describe(ref),
      retry: 'all',
      coalesce: true,
      signal: opts.signal,
    });
    return toMetadata(parseBody(res, GET_SECRET_METADATA_BODY, 'get_secret_metadata').data);
  }

  async listSecrets(filter: ListFilter = {}, opts: RequestOptions = {}): Promise<SecretMetadata[]> {
    if (filter.type !== undefined && !SECRET_TYPES.includes(filter.type)) {
      throw invalidType(filter.type);
    }
    const types = filter.type ? [filter.type] : SECRET_TYPES;
    const lists = await Promise.all(
      types.map(async (type) => {
        try {
          return await this.#listType(type, filter.group, opts.signal);
        } catch (e) {
          // Listing every type: an engine the instance does not offer is simply empty.
          if (!filter.type && isNotFound(e)) return [];
          throw e;
        }
      }),
    );
    const nameRe =
      filter.nameRegex &&
      new RegExp(filter.nameRegex.source, filter.nameRegex.flags.replace(/[gy]/g, ''));
    const onlyGroup = filter.group && filter.group !== '' ? filter.group : undefined;
    return lists
      .flat()
      .filter(
        (m) =>
          (onlyGroup === undefined || m.groupId === onlyGroup) &&
          (filter.labels ?? []).every((l) => m.labels.includes(l)) &&
          (!nameRe || nameRe.test(m.name)),
      );
  }

  async getIamCredentials(
    ref: IamCredentialsRef,
    opts: RequestOptions = {},
  ): Promise<IamCredentials> {
    const full: SecretRef = { ...ref, type: 'iam_credentials' };
    checkRef(full);
    const { data, lease, receivedAt, target } = await this.#readCreds(full, opts.signal);
    const creds = toIamCredentials(data, lease, receivedAt);
    if (!creds) throw badTtl('get_iam_credentials', target);
    return creds;
  }

  async revokeLease(leaseId: string, opts: RequestOptions = {}): Promise<void> {
    requireId(leaseId, 'leaseId');
    await this.#call({
      operation: 'revoke_lease',
      method: 'PUT',
      base: 'sm',
      path: LEASE_REVOKE_PATH,
      auth: 'vault',
      body: { lease_id: leaseId },
      target: `lease ${leaseId}`,
      retry: 'all',
      signal: opts.signal,
    });
  }

  async deleteSecretVersionData(
    secretId: string,
    versionId: string,
    opts: RequestOptions = {},
  ): Promise<void> {
    requireId(secretId, 'secretId');
    requireId(versionId, 'versionId');
    await this.#call({
      operation: 'delete_secret_version_data',
      method: 'DELETE',
      base: 'sm',
      path: secretVersionDataPath(secretId, versionId),
      auth: 'iam',
      target: `secret ${secretId} version ${versionId}`,
      retry: 'all',
      signal: opts.signal,
    });
  }

  async deleteServiceId(serviceId: string, opts: RequestOptions = {}): Promise<void> {
    requireId(serviceId, 'serviceId');
    await this.#call({
      operation: 'delete_service_id',
      method: 'DELETE',
      base: 'iam',
      path: serviceIdPath(serviceId),
      auth: 'iam',
      target: `service ID ${serviceId}`,
      retry: 'all',
      signal: opts.signal,
    });
  }

  async close(): Promise<void> {
    await this.#ownedAgent?.close();
  }

  async #listType(
    type: SecretType,
    group: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<SecretMetadata[]> {
    const res = await this.#call({
      operation: 'list_secrets',
      method: 'GET',
      base: 'sm',
      path: listPath(type, group),
      auth: 'vault',
      target: `${type} secrets${group ? ` in group ${group}` : ''}`,
      retry: 'all',
      coalesce: true,
      signal,
    });
    const body = parseBody(res, LIST_SECRETS_BODY, 'list_secrets');
    return (body.data.secrets ?? []).map(toMetadata);
  }

  async #readCreds(ref: SecretRef, signal: AbortSignal | undefined) {
    const target = describe(ref);
    // Never coalesced: every read mints a credential that its caller alone must track.
    // Retried only when the server cannot have minted one (see CallOptions.retry).
    const res = await this.#call({
      operation: 'get_iam_credentials',
      method: 'GET',
      base: 'sm',
      path: secretPath(ref),
      auth: 'vault',
      target,
      retry: 'notSent',
      signal,
    });
    const receivedAt = this.#clock.now();
    const body = parseBody(res, GET_IAM_CREDENTIALS_BODY, 'get_iam_credentials');
    return { data: body.data, lease: leaseOf(body), receivedAt, target };
  }

  #secrets(): string[] {
    return this.#vault.secrets();
  }

  #call(c: CallOptions): Promise<HttpResponse> {
    if (c.signal?.aborted) return Promise.reject(abortedError(c.operation));
    if (!c.coalesce || c.method !== 'GET') return this.#callWithRetry(c);
    const key = `${c.method} ${c.base} ${c.path}`;
    if (this.#reads.has(key)) this.#metrics.coalesced.inc({ operation: c.operation });
    // A read shared by several callers is not cancelled by one of them: each stops waiting.
    const { signal, ...shared } = c;
    return untilAborted(
      this.#reads.run(key, () => this.#callWithRetry(shared)),
      signal,
      c.operation,
    );
  }

  async #callWithRetry(c: CallOptions): Promise<HttpResponse> {
    try {
      return await this.#callWithRetryUnguarded(c);
    } catch (err) {
      // A backoff sleep cut short by the signal rejects with the signal's reason: say Aborted.
      if (c.signal?.aborted && !isSecretsManagerError(err)) throw abortedError(c.operation);
      throw err;
    }
  }

  #callWithRetryUnguarded(c: CallOptions): Promise<HttpResponse> {
    let reauthenticated = false;
    return withRetry(
      async () => {
        const token = await untilAborted(this.#authToken(c.auth), c.signal, c.operation);
        let res = await this.#send(c, token);
        // An expired or revoked token: get a new one and try once more, once per call.
        const rejected = c.auth === 'vault' ? res.status === 403 : res.status === 401;
        if (rejected && !reauthenticated) {
          reauthenticated = true;
          this.#invalidate(c.auth, token);
          this.#metrics.retries.inc({ operation: c.operation, reason: 'relogin' });
          res = await this.#send(c, await this.#authToken(c.auth));
        }
        if (res.status >= 200 && res.status < 300) return res;
        throw errorForResponse(res, {
          operation: c.operation,
          target: c.target,
          now: this.#clock.now(),
          secrets: this.#secrets(),
        });
      },
      {
        policy: this.#retry,
        clock: this.#clock,
        random: this.#random,
        // 429 means the server turned the request away before acting on it.
        shouldRetry: (e) => c.retry === 'all' || e.notSent || e.code === 'RateLimited',
        onRetry: (e) =>
          this.#metrics.retries.inc({ operation: c.operation, reason: retryReason(e) }),
        ...(c.signal ? { signal: c.signal } : {}),
      },
    );
  }

  #authToken(kind: AuthKind): Promise<string> {
    return kind === 'vault' ? this.#vault.token() : this.#iam.token();
  }

  #invalidate(kind: AuthKind, token: string): void {
    if (kind === 'vault') this.#vault.invalidate(token);
    else this.#iam.invalidate(token);
  }

  #send(c: CallOptions, token: string): Promise<HttpResponse> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (c.auth === 'vault') headers['x-vault-token'] = token;
    else headers.authorization = `Bearer ${token}`;
    if (c.body !== undefined) headers['content-type'] = 'application/json';
    return this.#transport.send({
      operation: c.operation,
      method: c.method,
      url: `${c.base === 'sm' ? this.#url : this.#iamUrl}${c.path}`,
      headers,
      ...(c.body !== undefined ? { body: JSON.stringify(c.body) } : {}),
      ...(c.base === 'sm' ? { gate: this.#gate } : {}),
      ...(c.signal ? { signal: c.signal } : {}),
    });
  }
}

/** `work`, unless `signal` aborts first (then `Aborted`; `work` goes on for its other users). */
function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  operation: string,
): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(abortedError(operation));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortedError(operation));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function leaseOf(body: {
  lease_id?: string | null | undefined;
  lease_duration?: number | null | undefined;
  renewable?: boolean | null | undefined;
}) {
  return { leaseId: body.lease_id, leaseDuration: body.lease_duration, renewable: body.renewable };
}

function describe(ref: SecretRef): string {
  const key = ref.id !== undefined ? `id=${ref.id}` : `name=${ref.name}`;
  const group = ref.group && ref.group !== 'default' ? ` in group ${ref.group}` : '';
  return `${ref.type} secret ${key}${group}`;
}

function invalidType(type: string): SecretsManagerError {
  return new SecretsManagerError(
    'InvalidRequest',
    `secret type "${type}" is not one of ${SECRET_TYPES.join(', ')}`,
  );
}

function checkRef(ref: SecretRef): void {
  if (!SECRET_TYPES.includes(ref.type)) throw invalidType(ref.type);
  const hasId = typeof ref.id === 'string' && ref.id !== '';
  const hasName = typeof ref.name === 'string' && ref.name !== '';
  if (hasId === hasName) {
    throw new SecretsManagerError(
      'InvalidRequest',
      'a secret reference needs exactly one of id or name',
    );
  }
  checkVersion(ref);
}

function requireId(value: string, what: string): void {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new SecretsManagerError('InvalidRequest', `${what} is empty`);
  }
}

function badTtl(operation: string, target: string): SecretsManagerError {
  return new SecretsManagerError(
    'InvalidResponse',
    `${operation} ${target}: the credential's ttl is not a number of seconds or a duration`,
    { operation },
  );
}
