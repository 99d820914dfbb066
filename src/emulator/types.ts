// The emulator's shared vocabulary: roles, API key specs, faults and the resolved options. A leaf:
// it imports nothing from the emulator, so every other module may import it without a cycle.
import { z } from 'zod';
import type { VerificationKey } from './jwt.ts';

export const ROLES = ['Reader', 'SecretsReader', 'Writer', 'Manager'] as const;
export type Role = (typeof ROLES)[number];

export const apiKeySpecSchema = z.object({
  key: z.string().min(1),
  role: z.enum(ROLES),
  /** Secret group IDs (or names) the key is limited to; `default` is the default group. */
  groups: z.array(z.string().min(1)).optional(),
  /** A display name for the key's service ID (shows up in login metadata). */
  name: z.string().optional(),
  /** Whether the key's identity may delete service IDs at IAM Identity. Default true. */
  iamIdentityOperator: z.boolean().optional(),
});
export type ApiKeySpec = z.infer<typeof apiKeySpecSchema>;

export interface Faults {
  /** Added before every matching response. */
  latencyMs: number;
  /** Fraction (0..1) of matching requests that fail with `errorStatus`. */
  errorRate: number;
  errorStatus: number;
  /** Fraction (0..1) of matching requests answered 429 with `Retry-After`. */
  rateLimitRate: number;
  /** Seconds, or an HTTP date string, sent as `Retry-After` on injected 429s. */
  retryAfter: number | string;
  /** Lifetime of IAM access tokens issued from now on (overrides the start-up value). */
  iamTokenTtlSeconds?: number;
  /** Lifetime of Vault tokens issued from now on (overrides the login token configuration). */
  vaultTokenTtlSeconds?: number;
  /** Limit latency/error/429 faults to these routes: `"<METHOD> <route>"` or `"<route>"`, `*` globs. */
  routes?: string[];
}

/** A change to the faults: omitted fields stay, `null` clears an optional one. */
export type FaultsUpdate = { [K in keyof Faults]?: Faults[K] | null };

export const DEFAULT_FAULTS: Faults = {
  latencyMs: 0,
  errorRate: 0,
  errorStatus: 503,
  rateLimitRate: 0,
  retryAfter: 1,
};

const rate = z.number().min(0).max(1);
/** Partial faults as the admin API and the options accept them; `null` clears an optional one. */
export const faultsPatchSchema = z
  .object({
    latencyMs: z.number().int().min(0),
    errorRate: rate,
    errorStatus: z.number().int().min(400).max(599),
    rateLimitRate: rate,
    retryAfter: z.union([z.number().int().min(0), z.string().min(1)]),
    iamTokenTtlSeconds: z.number().int().min(1).nullable(),
    vaultTokenTtlSeconds: z.number().int().min(1).nullable(),
    routes: z.array(z.string().min(1)).nullable(),
  })
  .partial()
  .strict();
export type FaultsPatch = z.infer<typeof faultsPatchSchema>;

/** Options with defaults applied; what the rest of the emulator reads. */
export interface ResolvedOptions {
  leaseIds: boolean;
  minCredentialTtlSeconds: number;
  maxCredentialTtlSeconds: number;
  iamTokenTtlSeconds: number;
  vaultTokenTtlSeconds: number;
  faults: Faults;
  random: () => number;
  /** How compute resource tokens (cr-token grant) are verified, from start-up options. */
  crTokens: { keys: VerificationKey[]; audience?: string | undefined; issuer?: string | undefined };
}
