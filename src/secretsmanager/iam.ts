/**
 * The IAM token source: exchanges the store's API key for an IAM access token
 * (`POST {iamUrl}/identity/token`, seeds/003), caches it, refreshes it at 80% of its lifetime
 * with one exchange shared by all callers, and backs off after a failed exchange.
 */
import type { Clock } from './clock.ts';
import { SecretsManagerError, safeServerText } from './errors.ts';
import { errorForResponse, parseBody, serverMessage, type Transport } from './http.ts';
import type { SecretsManagerMetrics } from './metrics.ts';
import { type RetryPolicy, retryReason, withRetry } from './retry.ts';
import { TokenCache } from './token-cache.ts';
import { IamTokenResponseSchema } from './types.ts';
import { IAM_TOKEN_PATH } from './urls.ts';

export const IAM_GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';
const OPERATION = 'iam_token';

export interface IamTokenSourceOptions {
  iamUrl: string;
  apiKey: string;
  transport: Transport;
  clock: Clock;
  random: () => number;
  metrics: SecretsManagerMetrics;
  retry: RetryPolicy;
  refreshFraction?: number;
  failureBackoff?: { baseMs: number; maxMs: number };
}

export class IamTokenSource {
  readonly #o: IamTokenSourceOptions;
  readonly #cache: TokenCache;

  constructor(o: IamTokenSourceOptions) {
    this.#o = o;
    this.#cache = new TokenCache({
      operation: OPERATION,
      fetch: () => this.#exchange(),
      clock: o.clock,
      random: o.random,
      refreshFraction: o.refreshFraction ?? 0.8,
      failureBackoff: o.failureBackoff ?? { baseMs: 1_000, maxMs: 120_000 },
    });
  }

  /** A valid IAM access token (cached, refreshed ahead of expiry). */
  token(): Promise<string> {
    return this.#cache.get();
  }

  /** A newly exchanged token, whatever the cache holds. */
  fresh(): Promise<string> {
    return this.#cache.fresh();
  }

  /** Forgets `token` after a server rejected it, so the next call exchanges again. */
  invalidate(token: string): void {
    this.#cache.invalidate(token);
  }

  /** The strings that must be scrubbed from any error text. */
  secrets(): string[] {
    return [this.#o.apiKey, ...this.#cache.recent()];
  }

  async #exchange(): Promise<{ value: string; lifetimeMs: number }> {
    const { transport, clock, metrics } = this.#o;
    const body = new URLSearchParams({ grant_type: IAM_GRANT_TYPE, apikey: this.#o.apiKey });
    try {
      const res = await withRetry(
        async () => {
          const r = await transport.send({
            operation: OPERATION,
            method: 'POST',
            url: `${this.#o.iamUrl}${IAM_TOKEN_PATH}`,
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              accept: 'application/json',
            },
            body: body.toString(),
          });
          if (r.status >= 200 && r.status < 300) return r;
          throw this.#error(r.status, r.text, () =>
            errorForResponse(r, {
              operation: OPERATION,
              now: clock.now(),
              secrets: this.secrets(),
            }),
          );
        },
        {
          policy: this.#o.retry,
          clock,
          random: this.#o.random,
          shouldRetry: () => true,
          onRetry: (e) => metrics.retries.inc({ operation: OPERATION, reason: retryReason(e) }),
        },
      );
      const parsed = parseBody(res, IamTokenResponseSchema, OPERATION);
      metrics.iamTokenExchanges.inc({ result: 'success' });
      return { value: parsed.access_token, lifetimeMs: parsed.expires_in * 1000 };
    } catch (e) {
      metrics.iamTokenExchanges.inc({ result: 'failure' });
      throw e;
    }
  }

  /** IAM answers a bad API key with 400 and an error code; that is an authentication failure. */
  #error(status: number, text: string, fallback: () => SecretsManagerError): SecretsManagerError {
    if (status !== 400 && status !== 401 && status !== 403) return fallback();
    const { errorCode, message } = serverMessage(text);
    const code = errorCode ? safeServerText(errorCode, this.secrets()) : undefined;
    const what =
      code === 'BXNIM0415E'
        ? 'the API key was not found or is not valid (BXNIM0415E)'
        : `IAM refused the API key (HTTP ${status}${code ? `, ${code}` : ''}${
            message ? `: ${safeServerText(message, this.secrets())}` : ''
          })`;
    return new SecretsManagerError(
      'Unauthenticated',
      `${OPERATION}: ${what}; check the API key in the store's auth.apiKey secret and the store's iamUrl`,
      { status, operation: OPERATION },
    );
  }
}
