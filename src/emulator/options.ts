import { type CrTokenConfig, loadCrTokenKeys } from './profiles.ts';
import type { SeedData } from './seed.ts';
import { type ApiKeySpec, DEFAULT_FAULTS, type Faults, type ResolvedOptions } from './types.ts';
import type { Clock } from './util.ts';

export interface EmulatorOptions {
  port?: number;
  host?: string;
  apiKeys?: ApiKeySpec[];
  seed?: SeedData;
  leaseIds?: boolean;
  minCredentialTtlSeconds?: number;
  iamTokenTtlSeconds?: number;
  vaultTokenTtlSeconds?: number;
  faults?: Partial<Faults>;
  /**
   * How the cr-token grant verifies compute resource tokens: the service-account issuer's
   * public keys (PEM or JWKS, inline or a file), the audience (default `iam`), the issuer.
   */
  computeResourceTokens?: CrTokenConfig;
  clock?: Clock;
  /** Random source for fault injection (0..1); tests may pin it. Default Math.random. */
  random?: () => number;
  /** How often expired credentials are swept without a request. Default 1000 ms. */
  sweepIntervalMs?: number;
}

export function resolveOptions(opts: EmulatorOptions): ResolvedOptions {
  return {
    leaseIds: opts.leaseIds ?? false,
    minCredentialTtlSeconds: opts.minCredentialTtlSeconds ?? 60,
    maxCredentialTtlSeconds: 90 * 86400,
    iamTokenTtlSeconds: opts.iamTokenTtlSeconds ?? 3600,
    vaultTokenTtlSeconds: opts.vaultTokenTtlSeconds ?? 3600,
    faults: { ...DEFAULT_FAULTS, ...opts.faults },
    random: opts.random ?? Math.random,
    crTokens: {
      keys: opts.computeResourceTokens ? loadCrTokenKeys(opts.computeResourceTokens) : [],
      audience: opts.computeResourceTokens?.audience,
      issuer: opts.computeResourceTokens?.issuer,
    },
  };
}
