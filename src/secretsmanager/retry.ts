/**
 * Bounded retries with jittered exponential backoff that honour the server's Retry-After.
 */
import { type Clock, sleep } from './clock.ts';
import { isSecretsManagerError, type SecretsManagerError } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in total, the first one included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Longest Retry-After the client waits for in place. A longer one ends the call with the
   * error (its retryAfterMs set) so the caller can requeue instead of holding a worker.
   */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 30_000,
};

/**
 * Parses Retry-After as delay-seconds or as an HTTP date (RFC 9110 10.2.3) into milliseconds
 * from `now`. Returns undefined for a missing or unreadable value; a date in the past is 0.
 */
export function parseRetryAfter(
  value: string | string[] | undefined,
  now: number,
): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  // Only accept things that look like dates; Date.parse is lenient with plain numbers.
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/**
 * Delay before retry number `retry` (1-based): exponential, capped, with "equal jitter" (half
 * fixed, half random) so that a fleet of callers spreads out yet never retries instantly.
 */
export function backoffDelay(retry: number, policy: RetryPolicy, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(exp / 2 + random() * (exp / 2));
}

export type RetryReason = 'rate_limited' | 'server_error' | 'network' | 'timeout';

export function retryReason(e: SecretsManagerError): RetryReason {
  switch (e.code) {
    case 'RateLimited':
      return 'rate_limited';
    case 'Timeout':
      return 'timeout';
    default:
      return e.status !== undefined ? 'server_error' : 'network';
  }
}

export interface RetryOptions {
  policy: RetryPolicy;
  clock: Clock;
  random: () => number;
  /** Whether this error may be retried for this operation (idempotency is the caller's call). */
  shouldRetry: (e: SecretsManagerError) => boolean;
  onRetry?: (e: SecretsManagerError, delayMs: number, retry: number) => void;
  signal?: AbortSignal;
}

export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  o: RetryOptions,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isSecretsManagerError(e) || !e.retryable || !o.shouldRetry(e)) throw e;
      if (attempt >= o.policy.maxAttempts) throw e;
      let delay: number;
      if (e.retryAfterMs !== undefined) {
        if (e.retryAfterMs > o.policy.maxRetryAfterMs) throw e;
        delay = e.retryAfterMs;
      } else {
        delay = backoffDelay(attempt, o.policy, o.random);
      }
      o.onRetry?.(e, delay, attempt);
      await sleep(o.clock, delay, o.signal);
    }
  }
}
