/**
 * One client per store across every reconcile, so a store has one IAM token and one Vault login
 * however many resources use it. A client is replaced when its store's connection settings
 * change (URL, IAM URL, API key, CA) and dropped when the store is deleted.
 */
import { createHash } from 'node:crypto';
import type { Registry } from 'prom-client';
import { Agent, type Dispatcher } from '../runtime/undici.ts';
import {
  createSecretsManagerClient,
  type SecretsManagerClient,
  type SecretsManagerClientOptions,
} from './client.ts';
import type { Clock } from './clock.ts';
import { describeProfile, type TrustedProfileCredential } from './iam.ts';
import type { RateLimit } from './limiter.ts';
import { createSecretsManagerMetrics, type SecretsManagerMetrics } from './metrics.ts';

/**
 * What identifies a store's connection; the API key is only ever kept as part of a hash. A trusted
 * profile is identified by the profile and its token source (the token changes every exchange).
 */
export interface StoreConnection {
  url: string;
  iamUrl?: string;
  apiKey?: string;
  trustedProfile?: TrustedProfileCredential;
  caBundle?: string;
  rateLimit?: RateLimit;
  concurrency?: number;
}

export interface ClientPoolOptions {
  registry?: Registry;
  clock?: Clock;
  random?: () => number;
  /** Shared dispatcher for stores without a CA bundle (MockAgent in tests). */
  dispatcher?: Dispatcher;
  requestTimeoutMs?: number;
  /** Builds a client; tests can return fakes. Defaults to the undici client. */
  factory?: (o: SecretsManagerClientOptions) => SecretsManagerClient;
}

interface Entry {
  fingerprint: string;
  client: SecretsManagerClient;
}

/** A digest of the connection settings: equal settings give the same client. */
export function connectionFingerprint(c: StoreConnection): string {
  const h = createHash('sha256');
  for (const part of [
    c.url,
    c.iamUrl ?? '',
    c.apiKey ?? '',
    c.trustedProfile
      ? `profile:${describeProfile(c.trustedProfile.profile)}\0${c.trustedProfile.source}`
      : '',
    c.caBundle ?? '',
    c.rateLimit ? `${c.rateLimit.qps}/${c.rateLimit.burst}` : '',
    c.concurrency === undefined ? '' : String(c.concurrency),
  ]) {
    h.update(part);
    h.update('\0');
  }
  return h.digest('hex');
}

export class SecretsManagerClientPool {
  readonly #o: ClientPoolOptions;
  readonly #metrics: SecretsManagerMetrics | undefined;
  readonly #entries = new Map<string, Entry>();
  #sharedAgent: Agent | undefined;

  constructor(o: ClientPoolOptions = {}) {
    this.#o = o;
    this.#metrics = o.registry ? createSecretsManagerMetrics(o.registry) : undefined;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * The client of the store `storeKey` (its UID, or kind/namespace/name). A client built for
   * different settings is closed and replaced.
   */
  get(storeKey: string, conn: StoreConnection): SecretsManagerClient {
    const fingerprint = connectionFingerprint(conn);
    const existing = this.#entries.get(storeKey);
    if (existing?.fingerprint === fingerprint) return existing.client;
    if (existing) void existing.client.close().catch(() => {});
    const client = (this.#o.factory ?? createSecretsManagerClient)(this.#clientOptions(conn));
    this.#entries.set(storeKey, { fingerprint, client });
    return client;
  }

  /** Drops the client of a store that was deleted (or whose credentials went away). */
  async evict(storeKey: string): Promise<void> {
    const existing = this.#entries.get(storeKey);
    if (!existing) return;
    this.#entries.delete(storeKey);
    await existing.client.close();
  }

  /** Drops every client whose store is not in `live` (after a relist of stores). */
  async retain(live: Iterable<string>): Promise<void> {
    const keep = new Set(live);
    await Promise.all(
      [...this.#entries.keys()].filter((k) => !keep.has(k)).map((k) => this.evict(k)),
    );
  }

  async close(): Promise<void> {
    await Promise.all([...this.#entries.keys()].map((k) => this.evict(k)));
    await this.#sharedAgent?.close();
    this.#sharedAgent = undefined;
  }

  #clientOptions(conn: StoreConnection): SecretsManagerClientOptions {
    const o = this.#o;
    // Stores with a CA bundle get an agent of their own (the client builds and owns it).
    const dispatcher = conn.caBundle ? o.dispatcher : (o.dispatcher ?? this.#shared());
    return {
      url: conn.url,
      ...(conn.apiKey !== undefined ? { apiKey: conn.apiKey } : {}),
      ...(conn.trustedProfile ? { trustedProfile: conn.trustedProfile } : {}),
      ...(conn.iamUrl !== undefined ? { iamUrl: conn.iamUrl } : {}),
      ...(conn.caBundle !== undefined ? { caBundle: conn.caBundle } : {}),
      ...(conn.rateLimit ? { rateLimit: conn.rateLimit } : {}),
      ...(conn.concurrency !== undefined ? { concurrency: conn.concurrency } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      ...(o.random ? { random: o.random } : {}),
      ...(this.#metrics ? { metrics: this.#metrics } : {}),
      ...(dispatcher ? { dispatcher } : {}),
      ...(o.requestTimeoutMs !== undefined ? { requestTimeoutMs: o.requestTimeoutMs } : {}),
    };
  }

  #shared(): Agent {
    this.#sharedAgent ??= new Agent();
    return this.#sharedAgent;
  }
}
