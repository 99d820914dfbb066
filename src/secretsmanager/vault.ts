/**
 * The Vault session: logs in with the IAM token (`PUT /v1/auth/ibmcloud/login`, seeds/004),
 * reuses the Vault token until near its expiry, and logs in again when a call finds the token
 * rejected. One login in flight at a time, shared by all callers.
 */
import type { Clock } from './clock.ts';
import { SecretsManagerError } from './errors.ts';
import { errorForResponse, parseBody, type SendOptions, type Transport } from './http.ts';
import type { IamTokenSource } from './iam.ts';
import type { SecretsManagerMetrics } from './metrics.ts';
import { type RetryPolicy, retryReason, withRetry } from './retry.ts';
import { TokenCache } from './token-cache.ts';
import { VaultLoginResponseSchema } from './types.ts';
import { LOGIN_PATH } from './urls.ts';

const OPERATION = 'vault_login';
// Vault reports lease_duration 0 for tokens that do not expire; still log in again hourly so a
// revoked key is noticed.
const NO_EXPIRY_LIFETIME_MS = 3_600_000;

export interface VaultSessionOptions {
  url: string;
  iam: IamTokenSource;
  transport: Transport;
  gate: SendOptions['gate'];
  clock: Clock;
  random: () => number;
  metrics: SecretsManagerMetrics;
  retry: RetryPolicy;
  refreshFraction?: number;
  failureBackoff?: { baseMs: number; maxMs: number };
}

export class VaultSession {
  readonly #o: VaultSessionOptions;
  readonly #cache: TokenCache;

  constructor(o: VaultSessionOptions) {
    this.#o = o;
    this.#cache = new TokenCache({
      operation: OPERATION,
      fetch: () => this.#login(),
      clock: o.clock,
      random: o.random,
      refreshFraction: o.refreshFraction ?? 0.8,
      failureBackoff: o.failureBackoff ?? { baseMs: 1_000, maxMs: 120_000 },
      // IAM failures have their own backoff; do not stack a second one on top.
      countsAsFailure: (e) => e.operation !== 'iam_token',
    });
  }

  token(): Promise<string> {
    return this.#cache.get();
  }

  /** Logs in now with a newly exchanged IAM token (used to validate a store). */
  async fresh(): Promise<string> {
    await this.#o.iam.fresh();
    return this.#cache.fresh();
  }

  /** Forgets `token` after Vault rejected it; the next call logs in again. */
  invalidate(token: string): void {
    this.#cache.invalidate(token);
  }

  secrets(): string[] {
    return [...this.#o.iam.secrets(), ...this.#cache.recent()];
  }

  async #login(): Promise<{ value: string; lifetimeMs: number }> {
    const { iam, metrics, clock } = this.#o;
    try {
      let iamToken = await iam.token();
      let res = await this.#send(iamToken);
      // Vault refuses an IAM token that expired or was revoked: exchange once more and retry.
      if (res.status === 400 || res.status === 401 || res.status === 403) {
        iam.invalidate(iamToken);
        metrics.retries.inc({ operation: OPERATION, reason: 'relogin' });
        iamToken = await iam.token();
        res = await this.#send(iamToken);
      }
      if (res.status < 200 || res.status >= 300) {
        const e = errorForResponse(res, {
          operation: OPERATION,
          now: clock.now(),
          secrets: this.secrets(),
        });
        if (e.code === 'Forbidden' || e.code === 'Unauthenticated' || e.code === 'InvalidRequest') {
          throw new SecretsManagerError(
            'Unauthenticated',
            `${OPERATION}: Secrets Manager refused the login with the IAM token of the store's API key (HTTP ${res.status}); check that the key's service ID has a role on this Secrets Manager instance and that the store URL is the instance's Vault API URL`,
            { status: res.status, operation: OPERATION },
          );
        }
        throw e;
      }
      const parsed = parseBody(res, VaultLoginResponseSchema, OPERATION);
      metrics.vaultLogins.inc({ result: 'success' });
      const lease = parsed.auth.lease_duration;
      return {
        value: parsed.auth.client_token,
        lifetimeMs: lease > 0 ? lease * 1000 : NO_EXPIRY_LIFETIME_MS,
      };
    } catch (e) {
      metrics.vaultLogins.inc({ result: 'failure' });
      throw e;
    }
  }

  /** One login request with retries for 429/5xx/network; other statuses are returned. */
  #send(iamToken: string) {
    const { transport, clock, metrics } = this.#o;
    return withRetry(
      async () => {
        const r = await transport.send({
          operation: OPERATION,
          method: 'PUT',
          url: `${this.#o.url}${LOGIN_PATH}`,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify({ token: iamToken }),
          gate: this.#o.gate,
        });
        if (r.status === 429 || r.status >= 500) {
          throw errorForResponse(r, {
            operation: OPERATION,
            now: clock.now(),
            secrets: this.secrets(),
          });
        }
        return r;
      },
      {
        policy: this.#o.retry,
        clock,
        random: this.#o.random,
        shouldRetry: () => true,
        onRetry: (e) => metrics.retries.inc({ operation: OPERATION, reason: retryReason(e) }),
      },
    );
  }
}
