import { CounterSet } from './counters.ts';
import { Credentials } from './credentials.ts';
import { EngineConfigs } from './engine-config.ts';
import { FaultInjector } from './faults.ts';
import { Iam } from './iam.ts';
import { TrustedProfiles } from './profiles.ts';
import { DEFAULT_GROUP, Store } from './store.ts';
import type { ResolvedOptions } from './types.ts';
import { type Clock, newId, randomString } from './util.ts';
import { VaultAuth } from './vault-auth.ts';

export const REGION = 'us-south';

/**
 * Everything one emulator instance holds, wired together. Time is the injected clock plus an
 * offset the admin API can advance, so a server in another process can be fast-forwarded too.
 */
export class World {
  readonly opts: ResolvedOptions;
  readonly clock: Clock;
  readonly counters = new CounterSet();
  readonly faults: FaultInjector;
  readonly store = new Store();
  readonly iam: Iam;
  readonly profiles: TrustedProfiles;
  readonly credentials: Credentials;
  readonly auth: VaultAuth;
  readonly configs: EngineConfigs;
  readonly accountId = randomString(32, '0123456789abcdef');
  readonly instanceId = newId();
  readonly instanceCrn: string;
  #offsetMs = 0;

  constructor(opts: ResolvedOptions, baseClock: Clock) {
    this.opts = opts;
    this.clock = () => baseClock() + this.#offsetMs;
    this.faults = new FaultInjector(opts.faults, opts.random);
    this.instanceCrn = `crn:v1:bluemix:public:secrets-manager:${REGION}:a/${this.accountId}:${this.instanceId}::`;
    this.profiles = new TrustedProfiles({
      clock: this.clock,
      accountId: this.accountId,
      base: opts.crTokens,
    });
    this.iam = new Iam({
      clock: this.clock,
      tokenTtlSeconds: () => this.faults.current.iamTokenTtlSeconds ?? opts.iamTokenTtlSeconds,
      issuer: 'https://iam.cloud.ibm.com',
      accountId: this.accountId,
      computeResource: (form) => this.profiles.exchange(form),
    });
    this.credentials = new Credentials({
      clock: this.clock,
      counters: this.counters,
      iam: this.iam,
      leaseIds: () => this.opts.leaseIds,
    });
    this.auth = new VaultAuth({
      clock: this.clock,
      iam: this.iam,
      counters: this.counters,
      tokenTtlSeconds: opts.vaultTokenTtlSeconds,
      ttlOverride: () => this.faults.current.vaultTokenTtlSeconds,
      resolveGroup: (g) => this.store.resolveGroupId(g) ?? g,
      instanceCrn: this.instanceCrn,
      accountId: this.accountId,
    });
    // The engine starts configured so iam_credentials work out of the box.
    this.configs = new EngineConfigs('emulator-iam-engine-key');
  }

  advanceClock(ms: number): void {
    this.#offsetMs += ms;
  }

  crn(kind: 'secret' | 'policy', id: string): string {
    return `crn:v1:bluemix:public:secrets-manager:${REGION}:a/${this.accountId}:${this.instanceId}:${kind}:${id}`;
  }

  /** Expires due credentials and forgets expired tokens. */
  sweep(): void {
    const now = this.clock();
    this.credentials.sweep();
    this.iam.sweep(now);
    this.auth.sweep(now);
  }

  /** Drops all state (keys, tokens, secrets, credentials) and counters; faults go back to start. */
  clear(): void {
    this.credentials.clear();
    this.iam.clear();
    this.profiles.clear();
    this.auth.clear();
    this.store.clear();
    this.configs.clear('emulator-iam-engine-key');
    this.counters.reset();
    this.faults.reset();
    this.#offsetMs = 0;
  }

  resolveGroupOrDefault(idOrName: string | undefined): string | undefined {
    return idOrName === undefined ? DEFAULT_GROUP : this.store.resolveGroupId(idOrName);
  }
}
