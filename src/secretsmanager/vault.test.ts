import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../runtime/testing/fake-clock.ts';
import { isForbidden, isUnauthenticated, type SecretsManagerError } from './errors.ts';
import { arbitraryData } from './testing/fixtures.ts';
import {
  deferred,
  IAM_URL,
  type MockSecretsManager,
  SM_URL,
  vaultEnvelope,
} from './testing/mock-server.ts';
import { metricValue, setup } from './testing/setup.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function env() {
  const s = setup();
  server = s.server;
  s.server.vaultGet(/arbitrary\/secrets\/a$/, () => ({
    status: 200,
    body: vaultEnvelope(arbitraryData()),
  }));
  const read = () => s.client.getSecret({ type: 'arbitrary', id: 'a' });
  const logins = () => s.server.count('PUT', '/v1/auth/ibmcloud/login');
  const exchanges = () => s.server.count('POST', '/identity/token');
  const reads = () => s.server.count('GET', /arbitrary\/secrets\/a$/);
  return { ...s, read, logins, exchanges, reads };
}

describe('Vault session', () => {
  it('logs in with the IAM token and reuses the Vault token', async () => {
    const { run, read, logins, exchanges, server } = env();
    for (let i = 0; i < 5; i++) await run(read());
    expect(exchanges()).toBe(1);
    expect(logins()).toBe(1);
    const login = server.requests.find((r) => r.path === '/v1/auth/ibmcloud/login')!;
    const iamToken = JSON.parse(login.body).token as string;
    expect(server.validIamTokens.has(iamToken)).toBe(true);
    const gets = server.requests.filter((r) => r.method === 'GET');
    expect(new Set(gets.map((g) => g.headers['x-vault-token']))).toEqual(
      new Set(['hvs.vault-token-1']),
    );
  });

  it('shares one login among concurrent first calls', async () => {
    const { run, client, logins, server } = env();
    const hold = deferred();
    server.on(SM_URL, 'PUT', '/v1/auth/ibmcloud/login', async (req) => {
      await hold.promise;
      return server.login(req);
    });
    server.vaultGet(/arbitrary\/secrets\/s\d+$/, () => ({
      status: 200,
      body: vaultEnvelope(arbitraryData()),
    }));
    // Distinct secrets, so coalescing of identical reads plays no part.
    const all = Promise.all(
      Array.from({ length: 20 }, (_, i) => client.getSecret({ type: 'arbitrary', id: `s${i}` })),
    );
    await until(() => logins() === 1);
    hold.resolve();
    await run(all);
    expect(logins()).toBe(1);
  });

  it('logs in again near the Vault token expiry', async () => {
    const { run, read, logins, clock, server } = env();
    server.vaultTokenTtlSeconds = 600;
    server.iamTokenTtlSeconds = 3600;
    await run(read());
    clock.tick(470_000); // 78% of 600 s
    await run(read());
    expect(logins()).toBe(1);
    clock.tick(15_000); // 80.8%
    await run(read());
    expect(logins()).toBe(2);
  });

  it('on a 403 from an expired token logs in once again and retries', async () => {
    const { run, read, logins, reads, server, registry } = env();
    await run(read());
    server.validVaultTokens.clear(); // the server forgot every token
    const s = await run(read());
    expect(s.type).toBe('arbitrary');
    expect(logins()).toBe(2);
    expect(reads()).toBe(3);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_retries_total', {
        operation: 'get_secret',
        reason: 'relogin',
      }),
    ).toBe(1);
  });

  it('gives up after one re-login when a fresh token is still refused', async () => {
    const { fail, read, logins, reads, server } = env();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ({
      status: 403,
      body: { errors: ['permission denied'] },
    }));
    const e = (await fail(read())) as SecretsManagerError;
    // A token minted a moment ago is not expired: the key lacks access to this secret.
    expect(isForbidden(e)).toBe(true);
    expect(e.retryable).toBe(false);
    expect(e.message).toMatch(/SecretsReader/);
    expect(logins()).toBe(2);
    expect(reads()).toBe(2);
  });

  it('exchanges a new IAM token when the login refuses the cached one', async () => {
    const { run, read, logins, exchanges, server, clock } = env();
    server.vaultTokenTtlSeconds = 60;
    await run(read());
    server.validIamTokens.clear(); // IAM token revoked or expired early
    clock.tick(60_000); // Vault token due
    await run(read());
    expect(exchanges()).toBe(2);
    expect(logins()).toBe(3); // refused, then accepted
  });

  it('fails with Unauthenticated when the login is refused twice', async () => {
    const { fail, read, server } = env();
    server.on(SM_URL, 'PUT', '/v1/auth/ibmcloud/login', () => ({
      status: 403,
      body: { errors: ['permission denied'] },
    }));
    const e = (await fail(read())) as SecretsManagerError;
    expect(isUnauthenticated(e)).toBe(true);
    expect(e.message).toMatch(/refused the login/);
  });

  it('validate() logs in, and with fresh exchanges and logs in anew', async () => {
    const { run, client, logins, exchanges } = env();
    await run(client.validate());
    await run(client.validate());
    expect([exchanges(), logins()]).toEqual([1, 1]);
    await run(client.validate({ fresh: true }));
    expect([exchanges(), logins()]).toEqual([2, 2]);
  });

  it('validate() surfaces a bad API key', async () => {
    const { fail, client, server } = env();
    server.on(IAM_URL, 'POST', '/identity/token', () => ({
      status: 400,
      body: { errorCode: 'BXNIM0415E', errorMessage: 'Provided API key could not be found' },
    }));
    const e = await fail(client.validate());
    expect(isUnauthenticated(e)).toBe(true);
  });
});
