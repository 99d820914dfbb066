import type { CounterSet, RevocationRoute } from './counters.ts';
import type { Iam } from './iam.ts';
import type { Secret } from './store.ts';
import { type Clock, newId, randomString } from './util.ts';

/** One service ID + API key minted for an `iam_credentials` secret. */
export interface Credential {
  /** Also the secret version ID this credential is. */
  id: string;
  secretId: string;
  secretName: string;
  serviceId: string;
  apiKeyId: string;
  apiKey: string;
  issuedAt: number;
  expiresAt: number;
  /** Only when the emulator runs with lease IDs (generic Vault behaviour). */
  leaseId: string | undefined;
  state: 'active' | 'expired' | 'revoked';
  revokedBy: RevocationRoute | undefined;
  endedAt: number | undefined;
}

/** What the admin API and `credentials()` show: never the API key itself. */
export type CredentialInfo = Omit<Credential, 'apiKey'>;

/** Ended credentials kept for inspection; older ones are forgotten. */
const ENDED_KEPT = 5000;

/**
 * The life of minted IAM credentials: minting, reuse, expiry at the TTL (checked lazily on every
 * use and by a periodic sweep), and early revocation by any of the routes users have.
 */
export class Credentials {
  readonly #active = new Map<string, Credential>();
  readonly #byLease = new Map<string, Credential>();
  readonly #currentBySecret = new Map<string, Credential>();
  #ended: Credential[] = [];
  readonly #clock: Clock;
  readonly #counters: CounterSet;
  readonly #iam: Iam;
  readonly #leaseIds: () => boolean;

  constructor(opts: { clock: Clock; counters: CounterSet; iam: Iam; leaseIds: () => boolean }) {
    this.#clock = opts.clock;
    this.#counters = opts.counters;
    this.#iam = opts.iam;
    this.#leaseIds = opts.leaseIds;
  }

  clear(): void {
    for (const c of this.#active.values()) this.#iam.removeKey(c.apiKey);
    this.#active.clear();
    this.#byLease.clear();
    this.#currentBySecret.clear();
    this.#ended = [];
  }

  get activeCount(): number {
    return this.#active.size;
  }

  mint(secret: Secret, ttlSeconds: number): Credential {
    const now = this.#clock();
    const id = newId();
    const cred: Credential = {
      id,
      secretId: secret.id,
      secretName: secret.name,
      serviceId: `ServiceId-${newId()}`,
      apiKeyId: `ApiKey-${newId()}`,
      apiKey: randomString(44, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'),
      issuedAt: now,
      expiresAt: now + ttlSeconds * 1000,
      leaseId: this.#leaseIds()
        ? `ibmcloud/iam_credentials/creds/${secret.name}/${randomString(24)}`
        : undefined,
      state: 'active',
      revokedBy: undefined,
      endedAt: undefined,
    };
    this.#active.set(id, cred);
    if (cred.leaseId) this.#byLease.set(cred.leaseId, cred);
    this.#currentBySecret.set(secret.id, cred);
    this.#iam.addDynamicKey({
      key: cred.apiKey,
      apiKeyId: cred.apiKeyId,
      serviceId: cred.serviceId,
      name: `${secret.name}-${id.slice(0, 8)}`,
      isValid: () => this.isLive(cred),
      onServiceIdDelete: () => this.revoke(cred, 'serviceId'),
    });
    this.#counters.credentialsMinted++;
    return cred;
  }

  /** The credential most recently minted for a secret, if it is still valid. */
  current(secretId: string): Credential | undefined {
    const c = this.#currentBySecret.get(secretId);
    return c && this.isLive(c) ? c : undefined;
  }

  /** The most recently minted credential, live or not (the secret's "current version"). */
  latest(secretId: string): Credential | undefined {
    return this.#currentBySecret.get(secretId);
  }

  /** Live or ended, until it is forgotten. */
  byId(id: string): Credential | undefined {
    return this.#active.get(id) ?? this.#ended.find((c) => c.id === id);
  }

  /** Live or ended (so revoking twice is not an error), until it is forgotten. */
  byLeaseId(leaseId: string): Credential | undefined {
    return this.#byLease.get(leaseId);
  }

  /** Checks expiry by the clock; an expired credential is ended here if no sweep got to it. */
  isLive(cred: Credential): boolean {
    if (cred.state !== 'active') return false;
    if (cred.expiresAt > this.#clock()) return true;
    this.#end(cred, 'expired', undefined);
    return false;
  }

  /** Ends an active credential early; false when it had already ended. */
  revoke(cred: Credential, route: RevocationRoute): boolean {
    if (!this.isLive(cred)) return false;
    this.#end(cred, 'revoked', route);
    return true;
  }

  /** Revokes every live credential of a secret (deleting the secret takes them along). */
  revokeAllOf(secretId: string, route: RevocationRoute): void {
    for (const c of [...this.#active.values()]) if (c.secretId === secretId) this.revoke(c, route);
    this.#currentBySecret.delete(secretId);
  }

  sweep(): void {
    const now = this.#clock();
    for (const c of [...this.#active.values()]) {
      if (c.expiresAt <= now) this.#end(c, 'expired', undefined);
    }
  }

  /** The API keys of the credentials still remembered, live and ended (test probes only). */
  apiKeys(): string[] {
    return [...this.#ended, ...this.#active.values()].map((c) => c.apiKey);
  }

  list(): CredentialInfo[] {
    return [...this.#ended, ...this.#active.values()].map(({ apiKey: _k, ...info }) => info);
  }

  #end(cred: Credential, state: 'expired' | 'revoked', route: RevocationRoute | undefined): void {
    cred.state = state;
    cred.revokedBy = route;
    cred.endedAt = this.#clock();
    this.#active.delete(cred.id);
    // The service ID is deleted with its key, whichever way the credential ended.
    this.#iam.removeKey(cred.apiKey);
    if (state === 'expired') this.#counters.credentialsExpired++;
    else if (route) this.#counters.revokedBy(route);
    this.#ended.push(cred);
    if (this.#ended.length > ENDED_KEPT) {
      const dropped = this.#ended.slice(0, this.#ended.length - ENDED_KEPT / 2);
      for (const c of dropped) if (c.leaseId) this.#byLease.delete(c.leaseId);
      this.#ended = this.#ended.slice(-ENDED_KEPT / 2);
    }
  }
}
