/**
 * A token with a lifetime: fetched once, reused until a fraction of its life has passed,
 * refreshed by one in-flight fetch shared among all callers, and not fetched again for a
 * while after a failure. Used for both the IAM access token and the Vault login token.
 */
import type { Clock } from './clock.ts';
import { isSecretsManagerError, SecretsManagerError } from './errors.ts';

export interface IssuedToken {
  value: string;
  lifetimeMs: number;
}

export interface TokenCacheOptions {
  /** Operation name for errors and metrics, e.g. `iam_token`. */
  operation: string;
  fetch: () => Promise<IssuedToken>;
  clock: Clock;
  random: () => number;
  /** Share of the lifetime after which the token is refreshed (IBM's SDKs use 0.8). */
  refreshFraction: number;
  /** Backoff after a failed fetch: first delay and cap, jittered. */
  failureBackoff: { baseMs: number; maxMs: number };
  /** Whether an error starts a backoff (e.g. not for errors of a token this one depends on). */
  countsAsFailure?: (e: SecretsManagerError) => boolean;
}

interface Held {
  value: string;
  refreshAt: number;
  /** Past this point the token is not handed out any more (a margin before the real expiry). */
  usableUntil: number;
}

const RECENT = 4;

export class TokenCache {
  readonly #o: TokenCacheOptions;
  #held: Held | undefined;
  #inflight: Promise<string> | undefined;
  #failures = 0;
  #retryAt = 0;
  #lastError: SecretsManagerError | undefined;
  readonly #recent: string[] = [];

  constructor(o: TokenCacheOptions) {
    this.#o = o;
  }

  /** A valid token: the cached one, or a fresh one when the cached one is due for refresh. */
  async get(): Promise<string> {
    const now = this.#o.clock.now();
    const held = this.#held;
    if (held && now < held.refreshAt) return held.value;
    const usable = held && now < held.usableUntil ? held : undefined;
    if (now < this.#retryAt && this.#lastError) {
      if (usable) return usable.value;
      throw this.#lastError.with({ retryAfterMs: this.#retryAt - now });
    }
    try {
      return await this.#refresh();
    } catch (e) {
      // A failed early refresh must not fail callers while the old token still works.
      if (usable && this.#held === usable) return usable.value;
      throw e;
    }
  }

  /** Fetches a new token now, ignoring the cache and any backoff (used to validate a store). */
  fresh(): Promise<string> {
    return this.#refresh();
  }

  /** Drops the cached token if it is `value` (or any token when omitted). */
  invalidate(value?: string): void {
    if (value === undefined || this.#held?.value === value) this.#held = undefined;
  }

  /** Tokens handed out recently, for scrubbing them from error text. */
  recent(): readonly string[] {
    return this.#recent;
  }

  #refresh(): Promise<string> {
    if (!this.#inflight) {
      this.#inflight = this.#fetch().finally(() => {
        this.#inflight = undefined;
      });
    }
    return this.#inflight;
  }

  async #fetch(): Promise<string> {
    const { clock, fetch, refreshFraction } = this.#o;
    try {
      const issued = await fetch();
      const now = clock.now();
      const life = Math.max(0, issued.lifetimeMs);
      // Stop using a token shortly before it expires so it cannot die in transit.
      const margin = Math.min(10_000, life * 0.05);
      this.#held = {
        value: issued.value,
        refreshAt: now + life * refreshFraction,
        usableUntil: now + life - margin,
      };
      this.#recent.unshift(issued.value);
      this.#recent.length = Math.min(this.#recent.length, RECENT);
      this.#failures = 0;
      this.#retryAt = 0;
      this.#lastError = undefined;
      return issued.value;
    } catch (e) {
      const err = isSecretsManagerError(e)
        ? e
        : new SecretsManagerError('Unavailable', `${this.#o.operation}: unexpected failure`, {
            operation: this.#o.operation,
          });
      if (this.#o.countsAsFailure?.(err) ?? true) {
        this.#failures += 1;
        const { baseMs, maxMs } = this.#o.failureBackoff;
        const exp = Math.min(maxMs, baseMs * 2 ** (this.#failures - 1));
        this.#retryAt = clock.now() + Math.round(exp / 2 + this.#o.random() * (exp / 2));
        this.#lastError = err;
      }
      throw err;
    }
  }
}
