import { type Principal, policiesFor } from './access.ts';
import type { CounterSet } from './counters.ts';
import type { Iam, IamKey } from './iam.ts';
import { permissionDenied } from './reply.ts';
import { type Clock, randomString, stableUuid } from './util.ts';

export interface VaultToken {
  token: string;
  accessor: string;
  principal: Principal;
  key: IamKey;
  expiresAt: number;
}

export interface LoginConfig {
  tokenTtlSeconds: number;
  tokenMaxTtlSeconds: number;
}

/** Largest TTL the IBM Cloud auth plug-in allows (its MaxLeaseTTL). */
export const MAX_TOKEN_TTL_SECONDS = 24 * 3600;

/**
 * The IBM Cloud IAM auth method: an IAM access token in, a Vault token out. Vault tokens expire
 * after their lease_duration; an unknown or expired one is "permission denied".
 */
export class VaultAuth {
  readonly #tokens = new Map<string, VaultToken>();
  readonly #clock: Clock;
  readonly #iam: Iam;
  readonly #counters: CounterSet;
  readonly #ttlOverride: () => number | undefined;
  readonly #resolveGroup: (idOrName: string) => string;
  readonly #crn: string;
  readonly #accountId: string;
  #config: LoginConfig;
  readonly #initialConfig: LoginConfig;

  constructor(opts: {
    clock: Clock;
    iam: Iam;
    counters: CounterSet;
    tokenTtlSeconds: number;
    ttlOverride: () => number | undefined;
    resolveGroup: (idOrName: string) => string;
    instanceCrn: string;
    accountId: string;
  }) {
    this.#clock = opts.clock;
    this.#iam = opts.iam;
    this.#counters = opts.counters;
    this.#ttlOverride = opts.ttlOverride;
    this.#resolveGroup = opts.resolveGroup;
    this.#crn = opts.instanceCrn;
    this.#accountId = opts.accountId;
    this.#initialConfig = {
      tokenTtlSeconds: opts.tokenTtlSeconds,
      tokenMaxTtlSeconds: Math.max(opts.tokenTtlSeconds, MAX_TOKEN_TTL_SECONDS),
    };
    this.#config = { ...this.#initialConfig };
  }

  clear(): void {
    this.#tokens.clear();
    this.#config = { ...this.#initialConfig };
  }

  get config(): LoginConfig {
    return { ...this.#config };
  }

  setConfig(config: Partial<LoginConfig>): void {
    this.#config = { ...this.#config, ...config };
  }

  /** `PUT /v1/auth/ibmcloud/login`: returns the `auth` block of the response. */
  login(iamToken: unknown): Record<string, unknown> {
    const verified = typeof iamToken === 'string' ? this.#iam.verify(iamToken) : undefined;
    // A minted credential's key has no role on this instance: it may not log in.
    if (!verified || verified.key.role === undefined) {
      this.#counters.loginFailures++;
      throw permissionDenied();
    }
    const key = verified.key;
    const role = key.role!;
    const ttl = Math.min(
      this.#ttlOverride() ?? this.#config.tokenTtlSeconds,
      this.#config.tokenMaxTtlSeconds,
    );
    const token: VaultToken = {
      token: `s.${randomString(24)}`,
      accessor: randomString(24),
      principal: {
        role,
        groups: key.groups ? new Set(key.groups.map((g) => this.#resolveGroup(g))) : undefined,
        iamId: key.iamId,
      },
      key,
      expiresAt: this.#clock() + ttl * 1000,
    };
    this.#tokens.set(token.token, token);
    this.#counters.logins++;
    const policies = policiesFor(role);
    return {
      client_token: token.token,
      accessor: token.accessor,
      policies,
      token_policies: policies,
      metadata: {
        bss_acc: this.#accountId,
        grant_type: verified.grantType,
        name: key.name,
        resource: this.#crn,
        user: key.iamId,
      },
      lease_duration: ttl,
      renewable: true,
      entity_id: stableUuid(`entity:${key.key}`),
      token_type: 'service',
      orphan: true,
    };
  }

  /** The token's record, or undefined when unknown or expired. */
  authenticate(token: string | undefined): VaultToken | undefined {
    if (!token) return undefined;
    const t = this.#tokens.get(token);
    if (!t) return undefined;
    if (t.expiresAt <= this.#clock()) {
      this.#tokens.delete(token);
      return undefined;
    }
    return t;
  }

  sweep(now: number): void {
    for (const [k, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(k);
  }
}
