import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, settle, until } from '../runtime/testing/fake-clock.ts';
import { isUnauthenticated, type SecretsManagerError } from './errors.ts';
import { Transport } from './http.ts';
import { IamTokenSource } from './iam.ts';
import { detachedMetrics } from './metrics.ts';
import { DEFAULT_RETRY_POLICY } from './retry.ts';
import { API_KEY, deferred, IAM_URL, MockSecretsManager } from './testing/mock-server.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function iamSource(apiKey = API_KEY) {
  server = new MockSecretsManager();
  const clock = new FakeClock();
  const metrics = detachedMetrics();
  const transport = new Transport({
    dispatcher: server.agent,
    clock,
    timeoutMs: 10_000,
    metrics,
    secrets: () => [apiKey],
  });
  const iam = new IamTokenSource({
    iamUrl: IAM_URL,
    credential: { apiKey },
    transport,
    clock,
    random: () => 0.5,
    metrics,
    retry: DEFAULT_RETRY_POLICY,
  });
  const exchanges = () => server!.count('POST', '/identity/token');
  return { server, clock, iam, exchanges, run: <T>(p: Promise<T>) => settle(p, clock) };
}

describe('IAM token source', () => {
  it('sends the API-key grant as a form and caches the token', async () => {
    const { iam, exchanges, run, server } = iamSource();
    const t1 = await run(iam.token());
    const t2 = await run(iam.token());
    expect(t1).toBe(t2);
    expect(exchanges()).toBe(1);
    const req = server.requests[0]!;
    expect(req.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(new URLSearchParams(req.body).get('grant_type')).toBe(
      'urn:ibm:params:oauth:grant-type:apikey',
    );
  });

  it('refreshes at 80% of the lifetime, not before', async () => {
    const { iam, exchanges, run, clock } = iamSource();
    const first = await run(iam.token());
    clock.tick(2_879_000); // 79.97% of 3600 s
    expect(await run(iam.token())).toBe(first);
    expect(exchanges()).toBe(1);
    clock.tick(2_000); // 80.03%
    const second = await run(iam.token());
    expect(second).not.toBe(first);
    expect(exchanges()).toBe(2);
  });

  it('shares one exchange among 20 concurrent callers', async () => {
    const { iam, exchanges, run, server } = iamSource();
    const hold = deferred();
    server.on(IAM_URL, 'POST', '/identity/token', async (req) => {
      await hold.promise;
      return server.issueIamToken(req);
    });
    const all = Promise.all(Array.from({ length: 20 }, () => iam.token()));
    await until(() => exchanges() === 1);
    hold.resolve();
    const tokens = await run(all);
    expect(new Set(tokens).size).toBe(1);
    expect(exchanges()).toBe(1);
  });

  it('keeps serving the old token when an early refresh fails', async () => {
    const { iam, exchanges, run, clock, server } = iamSource();
    const first = await run(iam.token());
    server.on(IAM_URL, 'POST', '/identity/token', () => ({
      status: 400,
      body: { errorCode: 'BXNIM0415E' },
    }));
    clock.tick(3_000_000); // past 80%, still valid
    expect(await run(iam.token())).toBe(first);
    expect(exchanges()).toBe(2);
  });

  it('backs off after a failed exchange instead of calling IAM again', async () => {
    const { iam, exchanges, clock, server } = iamSource();
    let fail = true;
    server.on(IAM_URL, 'POST', '/identity/token', (req) =>
      fail
        ? {
            status: 400,
            body: { errorCode: 'BXNIM0415E', errorMessage: 'Provided API key could not be found' },
          }
        : server.issueIamToken(req),
    );
    const e1 = (await settle(iam.token(), clock).catch((e) => e)) as SecretsManagerError;
    expect(isUnauthenticated(e1)).toBe(true);
    expect(exchanges()).toBe(1);

    // Within the backoff window (1 s base, random 0.5 -> 750 ms): no request, the same error.
    clock.tick(500);
    const e2 = (await settle(iam.token(), clock).catch((e) => e)) as SecretsManagerError;
    expect(e2.code).toBe('Unauthenticated');
    expect(e2.retryAfterMs).toBe(250);
    expect(exchanges()).toBe(1);

    // After it: one more try, which fails again and doubles the window (1500 ms).
    clock.tick(300);
    await settle(iam.token(), clock).catch(() => {});
    expect(exchanges()).toBe(2);
    clock.tick(1_000);
    await settle(iam.token(), clock).catch(() => {});
    expect(exchanges()).toBe(2);

    fail = false;
    clock.tick(600);
    await settle(iam.token(), clock);
    expect(exchanges()).toBe(3);
  });

  it('reports BXNIM0415E as Unauthenticated with an actionable message', async () => {
    const { iam, clock } = iamSource('a-wrong-api-key-1234567890');
    const e = (await settle(iam.token(), clock).catch((x) => x)) as SecretsManagerError;
    expect(e.code).toBe('Unauthenticated');
    expect(e.status).toBe(400);
    expect(e.retryable).toBe(false);
    expect(e.message).toContain('the API key was not found or is not valid (BXNIM0415E)');
    expect(e.message).not.toContain('a-wrong-api-key-1234567890');
  });

  it('retries an IAM 503 within one exchange', async () => {
    const { iam, exchanges, run, server } = iamSource();
    let n = 0;
    server.on(IAM_URL, 'POST', '/identity/token', (req) =>
      ++n < 3 ? { status: 503, body: {} } : server.issueIamToken(req),
    );
    await run(iam.token());
    expect(exchanges()).toBe(3);
  });
});
