import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { iamToken, MANAGER_KEY, startTestEmulator, vaultCall, vaultLogin } from './testing.ts';

let em: Emulator;
afterEach(() => em.stop());

const SECRET = { type: 'arbitrary', name: 'db-url', payload: 'postgres://x' } as const;

describe('Vault login and tokens', () => {
  it('logs in with an IAM token and reports the lease of the Vault token', async () => {
    em = await startTestEmulator();
    const token = await iamToken(em.url, MANAGER_KEY);
    const res = await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      lease_id: '',
      data: null,
      auth: { lease_duration: 3600, renewable: true },
    });
    expect(res.json.auth.client_token).toMatch(/^s\./);
    expect(em.counters().logins).toBe(1);
  });

  it('answers 403 "permission denied" once the Vault token has outlived its lease', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    em = await startTestEmulator({ clock: () => now, vaultTokenTtlSeconds: 120 });
    const id = em.createSecret(SECRET);
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    now += 119_000;
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}`)).status,
    ).toBe(200);
    now += 1_000;
    const expired = await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}`);
    expect(expired.status).toBe(403);
    expect(expired.json).toEqual({ errors: ['permission denied'] });
  });

  it('answers 403 for an unknown token, a missing token and an undocumented path', async () => {
    em = await startTestEmulator();
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    for (const [token, path] of [
      ['s.unknown', '/v1/ibmcloud/arbitrary/secrets'],
      [undefined, '/v1/ibmcloud/arbitrary/secrets'],
      [vt, '/v1/sys/mounts'],
      [vt, '/v1/secret/data/foo'],
      [vt, '/v1/sys/leases/revoke'],
    ] as const) {
      const res = await vaultCall(em.url, token, 'GET', path);
      expect(res.status, path).toBe(403);
      expect(res.json).toEqual({ errors: ['permission denied'] });
    }
  });

  it('applies the login token configuration to later logins', async () => {
    em = await startTestEmulator();
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    const put = await vaultCall(em.url, vt, 'PUT', '/v1/auth/ibmcloud/manage/login', {
      token_ttl: '30m',
      token_max_ttl: '2h',
    });
    expect(put.status).toBe(204);
    const get = await vaultCall(em.url, vt, 'GET', '/v1/auth/ibmcloud/manage/login');
    expect(get.json.data).toEqual({ login: { token_max_ttl: '2h0m0s', token_ttl: '30m0s' } });
    const token = await iamToken(em.url, MANAGER_KEY);
    const login = await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token });
    expect(login.json.auth.lease_duration).toBe(1800);
    const tooLong = await vaultCall(em.url, vt, 'PUT', '/v1/auth/ibmcloud/manage/login', {
      token_ttl: '25h',
    });
    expect(tooLong.status).toBe(400);
  });

  it('shortens Vault token lifetimes when the fault asks for it', async () => {
    em = await startTestEmulator();
    em.setFaults({ vaultTokenTtlSeconds: 2 });
    const token = await iamToken(em.url, MANAGER_KEY);
    const login = await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token });
    expect(login.json.auth.lease_duration).toBe(2);
  });

  it('does not let a minted IAM credential log in to the instance', async () => {
    em = await startTestEmulator();
    em.createSecret({
      type: 'iam_credentials',
      name: 'cred',
      access_groups: ['AccessGroupId-1'],
      ttl: '1h',
    });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    const creds = await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/iam_credentials/creds/cred');
    const token = await iamToken(em.url, creds.json.data.api_key);
    expect(
      (await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token })).status,
    ).toBe(403);
  });
});
