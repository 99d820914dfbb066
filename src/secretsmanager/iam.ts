/**
 * The IAM token source: exchanges the store's API key, or a compute resource token for a trusted
 * profile, for an IAM access token (`POST {iamUrl}/identity/token`, seeds/003), caches it,
 * refreshes it at 80% of its lifetime with one exchange shared by all callers, and backs off
 * after a failed exchange.
 */
import type { Clock } from './clock.ts';
import { isSecretsManagerError, SecretsManagerError, safeServerText } from './errors.ts';
import { errorForResponse, parseBody, serverMessage, type Transport } from './http.ts';
import type { SecretsManagerMetrics } from './metrics.ts';
import { type RetryPolicy, retryReason, withRetry } from './retry.ts';
import { TokenCache } from './token-cache.ts';
import { IamTokenResponseSchema } from './types.ts';
import { IAM_TOKEN_PATH } from './urls.ts';

export const IAM_GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:apikey';
/** IAM's grant for a compute resource token (a Kubernetes service-account token). */
export const CR_TOKEN_GRANT_TYPE = 'urn:ibm:params:oauth:grant-type:cr-token';
const OPERATION = 'iam_token';
/** The operation of errors in getting the compute resource token itself (before IAM). */
export const CR_TOKEN_OPERATION = 'cr_token';

/** Which trusted profile to become: IAM takes its ID, its name with the account, or its CRN. */
export type TrustedProfileRef =
  | { id: string }
  | { name: string; accountId: string }
  | { crn: string };

export interface TrustedProfileCredential {
  profile: TrustedProfileRef;
  /**
   * A compute resource token for one exchange: a new TokenRequest, or the projected file read
   * again (the kubelet rotates it). Throws a SecretsManagerError of operation `cr_token`.
   */
  crToken: (signal?: AbortSignal) => Promise<string>;
  /** Where the token comes from, for messages and the client pool (never the token). */
  source: string;
}

export type IamCredential = { apiKey: string } | { trustedProfile: TrustedProfileCredential };

export function describeProfile(p: TrustedProfileRef): string {
  if ('id' in p) return p.id;
  if ('name' in p) return `${p.name} (account ${p.accountId})`;
  return p.crn;
}

export interface IamTokenSourceOptions {
  iamUrl: string;
  credential: IamCredential;
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
  /** Compute resource tokens sent lately, to scrub from error text. */
  readonly #crTokens: string[] = [];

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
    const c = this.#o.credential;
    return [...('apiKey' in c ? [c.apiKey] : []), ...this.#crTokens, ...this.#cache.recent()];
  }

  /** The form of one exchange; for a trusted profile this gets a new compute resource token. */
  async #form(): Promise<URLSearchParams> {
    const c = this.#o.credential;
    if ('apiKey' in c) return new URLSearchParams({ grant_type: IAM_GRANT_TYPE, apikey: c.apiKey });
    const { profile, crToken, source } = c.trustedProfile;
    let token: string;
    try {
      token = (await crToken()).trim();
    } catch (e) {
      if (isSecretsManagerError(e)) throw e;
      throw new SecretsManagerError(
        'Unauthenticated',
        `${CR_TOKEN_OPERATION}: no token could be had from ${source}`,
        { operation: CR_TOKEN_OPERATION },
      );
    }
    if (token === '') {
      throw new SecretsManagerError(
        'Unauthenticated',
        `${CR_TOKEN_OPERATION}: the token from ${source} is empty`,
        { operation: CR_TOKEN_OPERATION },
      );
    }
    this.#crTokens.unshift(token);
    this.#crTokens.length = Math.min(this.#crTokens.length, 2);
    const form = new URLSearchParams({ grant_type: CR_TOKEN_GRANT_TYPE, cr_token: token });
    if ('id' in profile) form.set('profile_id', profile.id);
    else if ('name' in profile) {
      form.set('profile_name', profile.name);
      form.set('account', profile.accountId);
    } else form.set('profile_crn', profile.crn);
    return form;
  }

  async #exchange(): Promise<{ value: string; lifetimeMs: number }> {
    const { transport, clock, metrics } = this.#o;
    try {
      const body = await this.#form();
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

  /**
   * IAM answers a bad API key or compute resource token with 400 (or 401/403) and an error code;
   * that is an authentication failure, reported with what IAM said (scrubbed of every token).
   */
  #error(status: number, text: string, fallback: () => SecretsManagerError): SecretsManagerError {
    if (status !== 400 && status !== 401 && status !== 403) return fallback();
    const { errorCode, message } = serverMessage(text);
    const code = errorCode ? safeServerText(errorCode, this.secrets()) : undefined;
    const c = this.#o.credential;
    if ('trustedProfile' in c) {
      const said = `HTTP ${status}${code ? `, ${code}` : ''}${
        message ? `: ${safeServerText(message, this.secrets())}` : ''
      }`;
      return new SecretsManagerError(
        'Unauthenticated',
        `${OPERATION}: IAM refused the token of ${c.trustedProfile.source} for trusted profile ` +
          `${describeProfile(c.trustedProfile.profile)} (${said}); check that the profile trusts ` +
          "that service account (its links) and the token's audience",
        { status, operation: OPERATION },
      );
    }
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
