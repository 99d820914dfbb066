import { afterEach, describe, expect, it } from 'vitest';
import { isRateLimited, isTimeout, isUnavailable, type SecretsManagerError } from './errors.ts';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter } from './retry.ts';
import { arbitraryData, iamCredentialsData } from './testing/fixtures.ts';
import { type MockSecretsManager, vaultEnvelope } from './testing/mock-server.ts';
import { metricValue, setup } from './testing/setup.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const TIMEOUT_MS = 12_345;

function env(over: Parameters<typeof setup>[0] = {}) {
  const s = setup({ requestTimeoutMs: TIMEOUT_MS, ...over });
  server = s.server;
  // Backoff and Retry-After waits: every scheduled delay except request timeouts.
  const waits = () => s.clock.scheduled.filter((d) => d !== TIMEOUT_MS);
  const reads = () => s.server.count('GET', /arbitrary\/secrets\/a$/);
  const read = () => s.client.getSecret({ type: 'arbitrary', id: 'a' });
  return { ...s, waits, reads, read };
}

const okSecret = () => ({ status: 200, body: vaultEnvelope(arbitraryData()) });

describe('parseRetryAfter', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('3', now)).toBe(3000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['7', '9'], now)).toBe(7000);
  });
  it('reads an HTTP date relative to now', () => {
    expect(parseRetryAfter('Thu, 01 Jan 2026 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 11:59:00 GMT', now)).toBe(0);
  });
  it('ignores what it cannot read', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('doubles from the base, capped, with half of it jittered', () => {
    const p = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 0))).toEqual([
      50, 100, 200, 400, 500,
    ]);
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, p, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ]);
  });
});

describe('retries', () => {
  it('honours Retry-After in seconds on a 429', async () => {
    const { server, run, read, reads, waits, registry } = env();
    let n = 0;
    server.vaultGet(/arbitrary\/secrets\/a$/, () =>
      ++n === 1
        ? { status: 429, headers: { 'retry-after': '3' }, body: { errors: ['rate limit'] } }
        : okSecret(),
    );
    await run(read());
    expect(reads()).toBe(2);
    expect(waits()).toEqual([3000]);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_retries_total', {
        operation: 'get_secret',
        reason: 'rate_limited',
      }),
    ).toBe(1);
  });

  it('honours Retry-After as an HTTP date', async () => {
    const { server, run, read, reads, waits, clock } = env();
    let n = 0;
    const at = new Date(clock.now() + 7_000).toUTCString();
    server.vaultGet(/arbitrary\/secrets\/a$/, () =>
      ++n === 1
        ? { status: 429, headers: { 'retry-after': at }, body: { errors: ['slow down'] } }
        : okSecret(),
    );
    await run(read());
    expect(reads()).toBe(2);
    expect(waits()).toEqual([7000]);
  });

  it('returns RateLimited at once when Retry-After is longer than it waits in place', async () => {
    const { server, fail, read, reads, waits } = env();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ({
      status: 429,
      headers: { 'retry-after': '120' },
      body: { errors: ['rate limit'] },
    }));
    const e = (await fail(read())) as SecretsManagerError;
    expect(isRateLimited(e)).toBe(true);
    expect(e.retryAfterMs).toBe(120_000);
    expect(reads()).toBe(1);
    expect(waits()).toEqual([]);
  });

  it('retries a 5xx with growing jittered delays, at most 4 attempts', async () => {
    const { server, fail, read, reads, waits } = env({ random: () => 0 });
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ({ status: 503, body: { errors: ['down'] } }));
    const e = (await fail(read())) as SecretsManagerError;
    expect(isUnavailable(e)).toBe(true);
    expect(e.status).toBe(503);
    expect(reads()).toBe(4);
    expect(waits()).toEqual([125, 250, 500]);
  });

  it('recovers when a 5xx clears before the attempts run out', async () => {
    const { server, run, read, reads } = env();
    let n = 0;
    server.vaultGet(/arbitrary\/secrets\/a$/, () =>
      ++n < 3 ? { status: 502, body: { errors: ['bad gateway'] } } : okSecret(),
    );
    await run(read());
    expect(reads()).toBe(3);
  });

  it('does not retry a 400', async () => {
    const { server, fail, read, reads } = env();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ({ status: 400, body: { errors: ['bad'] } }));
    await fail(read());
    expect(reads()).toBe(1);
  });

  it('times out a hanging request on the clock and retries it', async () => {
    const { server, fail, read, reads } = env({ retry: { maxAttempts: 2 } });
    server.vaultGet(/arbitrary\/secrets\/a$/, () => new Promise(() => {}));
    const e = (await fail(read())) as SecretsManagerError;
    expect(isTimeout(e)).toBe(true);
    expect(e.message).toContain(`${TIMEOUT_MS} ms`);
    expect(reads()).toBe(2);
  });
});

describe('retries of iam_credentials reads (each may mint a key)', () => {
  const creds = () => ({ status: 200, body: vaultEnvelope(iamCredentialsData()) });
  const count = () => server!.count('GET', /creds\/c1$/);

  it('are not retried after a 5xx: the key may have been minted', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/creds\/c1$/, () => ({ status: 503, body: { errors: ['down'] } }));
    const e = await fail(client.getIamCredentials({ id: 'c1' }));
    expect(isUnavailable(e)).toBe(true);
    expect(count()).toBe(1);
  });

  it('are not retried after a timeout', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/creds\/c1$/, () => new Promise(() => {}));
    const e = await fail(client.getIamCredentials({ id: 'c1' }));
    expect(isTimeout(e)).toBe(true);
    expect(count()).toBe(1);
  });

  it('are retried when the connection was refused', async () => {
    const { server, run, client } = env();
    let n = 0;
    server.vaultGet(/creds\/c1$/, () => {
      if (++n === 1)
        throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:443'), {
          code: 'ECONNREFUSED',
        });
      return creds();
    });
    await run(client.getIamCredentials({ id: 'c1' }));
    expect(count()).toBe(2);
  });

  it('are retried after a 429 (turned away before anything was minted)', async () => {
    const { server, run, client } = env();
    let n = 0;
    server.vaultGet(/creds\/c1$/, () =>
      ++n === 1
        ? { status: 429, headers: { 'retry-after': '1' }, body: { errors: ['rate'] } }
        : creds(),
    );
    await run(client.getIamCredentials({ id: 'c1' }));
    expect(count()).toBe(2);
  });

  it('tell the caller when a failed read certainly reached no server', async () => {
    const { server, fail, client } = env({ retry: { maxAttempts: 1 } });
    server.vaultGet(/creds\/c1$/, () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    });
    const e = (await fail(client.getIamCredentials({ id: 'c1' }))) as SecretsManagerError;
    expect(e.notSent).toBe(true);
    expect(e.code).toBe('Unavailable');
  });
});
