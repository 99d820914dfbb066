import { afterEach, describe, expect, it } from 'vitest';
import { isNotFound, isUnauthenticated } from './errors.ts';
import { IAM_URL, type MockSecretsManager, SM_URL } from './testing/mock-server.ts';
import { setup } from './testing/setup.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function env() {
  const s = setup();
  server = s.server;
  return s;
}

describe('revocation routes', () => {
  it('revokeLease sends the lease ID to sys/leases/revoke with the Vault token', async () => {
    const { server, run, client } = env();
    server.on(
      SM_URL,
      'PUT',
      '/v1/sys/leases/revoke',
      (req) => server.requireVault(req) ?? { status: 204 },
    );
    await run(client.revokeLease('ibmcloud/iam_credentials/creds/c1/abc'));
    const req = server.requests.find((r) => r.path === '/v1/sys/leases/revoke')!;
    expect(JSON.parse(req.body)).toEqual({ lease_id: 'ibmcloud/iam_credentials/creds/c1/abc' });
    expect(req.headers['content-type']).toBe('application/json');
    expect(server.validVaultTokens.has(req.headers['x-vault-token']!)).toBe(true);
  });

  it('deleteSecretVersionData calls the REST API on the instance with the IAM bearer token', async () => {
    const { server, run, client } = env();
    server.on(
      SM_URL,
      'DELETE',
      '/api/v2/secrets/s1/versions/v1/secret_data',
      (req) => server.requireIam(req) ?? { status: 204 },
    );
    await run(client.deleteSecretVersionData('s1', 'v1'));
    const req = server.requests.find((r) => r.method === 'DELETE')!;
    expect(req.origin).toBe(SM_URL);
    expect(req.headers.authorization).toMatch(/^Bearer iam-token-/);
    expect(req.headers['x-vault-token']).toBeUndefined();
  });

  it('deleteServiceId calls IAM Identity at the IAM URL', async () => {
    const { server, run, client } = env();
    server.on(
      IAM_URL,
      'DELETE',
      '/v1/serviceids/ServiceId-1',
      (req) => server.requireIam(req) ?? { status: 204 },
    );
    await run(client.deleteServiceId('ServiceId-1'));
    const req = server.requests.find((r) => r.method === 'DELETE')!;
    expect(req.origin).toBe(IAM_URL);
    expect(req.headers.authorization).toMatch(/^Bearer iam-token-/);
  });

  it('exchanges the IAM token once more when a bearer call gets a 401', async () => {
    const { server, run, client } = env();
    server.on(
      IAM_URL,
      'DELETE',
      '/v1/serviceids/ServiceId-1',
      (req) => server.requireIam(req) ?? { status: 204 },
    );
    await run(client.deleteServiceId('ServiceId-1'));
    server.validIamTokens.clear();
    await run(client.deleteServiceId('ServiceId-1'));
    expect(server.count('POST', '/identity/token')).toBe(2);
    expect(server.count('DELETE', '/v1/serviceids/ServiceId-1')).toBe(3);
  });

  it('a persistent 401 ends in Unauthenticated after one new exchange', async () => {
    const { server, fail, client } = env();
    server.on(IAM_URL, 'DELETE', '/v1/serviceids/ServiceId-1', () => ({
      status: 401,
      body: { errorCode: 'BXNIM0508E', errorMessage: 'invalid token' },
    }));
    const e = await fail(client.deleteServiceId('ServiceId-1'));
    expect(isUnauthenticated(e)).toBe(true);
    expect(server.count('DELETE', '/v1/serviceids/ServiceId-1')).toBe(2);
  });

  it('retries revocation after a 5xx (deleting twice is harmless)', async () => {
    const { server, run, client } = env();
    let n = 0;
    server.on(SM_URL, 'DELETE', '/api/v2/secrets/s1/versions/v1/secret_data', () =>
      ++n < 3 ? { status: 500, body: { errors: ['oops'] } } : { status: 204 },
    );
    await run(client.deleteSecretVersionData('s1', 'v1'));
    expect(n).toBe(3);
  });

  it('a credential that is already gone is NotFound, for the caller to treat as revoked', async () => {
    const { server, fail, client } = env();
    server.on(IAM_URL, 'DELETE', '/v1/serviceids/ServiceId-gone', () => ({
      status: 404,
      body: { errorCode: 'BXNIM0102E', errorMessage: 'service ID not found' },
    }));
    expect(isNotFound(await fail(client.deleteServiceId('ServiceId-gone')))).toBe(true);
  });

  it('rejects empty IDs without a request', async () => {
    const { server, fail, client } = env();
    await fail(client.revokeLease(''));
    await fail(client.deleteSecretVersionData('s', ' '));
    await fail(client.deleteServiceId(''));
    expect(server.requests).toHaveLength(0);
  });
});
