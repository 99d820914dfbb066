import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator, EmulatorOptions } from './index.ts';
import {
  exchange,
  iamToken,
  MANAGER_KEY,
  startTestEmulator,
  vaultCall,
  vaultLogin,
} from './testing.ts';

let em: Emulator;
let vt: string;
let now: number;
afterEach(() => em.stop());

async function start(opts: EmulatorOptions = {}): Promise<void> {
  now = Date.parse('2030-01-01T00:00:00Z');
  em = await startTestEmulator({ clock: () => now, minCredentialTtlSeconds: 5, ...opts });
  vt = await vaultLogin(em.url, MANAGER_KEY);
}

function iamSecret(name: string, reuse: boolean, ttl = '10m'): string {
  return em.createSecret({
    type: 'iam_credentials',
    name,
    access_groups: ['AccessGroupId-1'],
    ttl,
    reuse_api_key: reuse,
  });
}

async function read(name: string) {
  const res = await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/iam_credentials/creds/${name}`);
  expect(res.status).toBe(200);
  return res.json;
}

/** The storage-bucket tutorial's proof: can the key still be exchanged for an IAM token? */
async function accepted(apiKey: string): Promise<boolean> {
  const status = (await exchange(em.url, apiKey)).status;
  expect(em.isApiKeyValid(apiKey)).toBe(status === 200);
  return status === 200;
}

describe('IAM credentials', () => {
  it('mints a new service ID and API key on every read, with no lease', async () => {
    await start();
    iamSecret('writer', false);
    const a = await read('writer');
    const b = await read('writer');
    expect(a).toMatchObject({ lease_id: '', lease_duration: 0, renewable: false });
    expect(a.data.api_key).not.toBe(b.data.api_key);
    expect(a.data.service_id).not.toBe(b.data.service_id);
    expect(a.data.ttl).toBe(600);
    expect(await accepted(a.data.api_key)).toBe(true);
    expect(await accepted(b.data.api_key)).toBe(true);
    expect(em.counters()).toMatchObject({ credentialsMinted: 2, activeCredentials: 2 });
  });

  it('lists the minted API keys, live and ended, for in-process leak probes only', async () => {
    await start();
    iamSecret('probe', false, '10s');
    const a = await read('probe');
    now += 11_000;
    const b = await read('probe');
    expect(em.mintedApiKeys()).toEqual([a.data.api_key, b.data.api_key]);
    const admin = await fetch(`${em.url}/__emulator/credentials`);
    expect(admin.status).toBe(200);
    expect(await admin.text()).not.toContain(a.data.api_key);
  });

  it('returns the same key with reuse_api_key until the TTL ends, then a new one', async () => {
    await start();
    iamSecret('reused', true);
    const first = await read('reused');
    now += 400_000;
    const again = await read('reused');
    expect(again.data.api_key).toBe(first.data.api_key);
    // The secret's TTL, and when the key was generated: the reader works out what is left.
    expect(again.data.ttl).toBe(600);
    expect(again.data.last_update_date).toBe(first.data.last_update_date);
    now += 200_000;
    const next = await read('reused');
    expect(next.data.api_key).not.toBe(first.data.api_key);
    expect(await accepted(first.data.api_key)).toBe(false);
    expect(em.counters()).toMatchObject({
      credentialsMinted: 2,
      credentialsReused: 1,
      credentialsExpired: 1,
    });
  });

  it('revokes a credential at its TTL and counts the expiry without any request', async () => {
    await start();
    iamSecret('short', false, '30s');
    const cred = await read('short');
    now += 29_000;
    expect(await accepted(cred.data.api_key)).toBe(true);
    now += 1_000;
    expect(em.counters()).toMatchObject({ credentialsExpired: 1, activeCredentials: 0 });
    expect(await accepted(cred.data.api_key)).toBe(false);
  });

  it('refuses TTLs below the minimum and above 90 days', async () => {
    await start({ minCredentialTtlSeconds: 60 });
    for (const ttl of ['59s', '91d']) {
      const res = await vaultCall(em.url, vt, 'POST', '/v1/ibmcloud/iam_credentials/roles/bad', {
        access_groups: ['AccessGroupId-1'],
        ttl,
      });
      expect(res.status).toBe(400);
    }
  });
});

describe('early revocation, proven by IAM rejecting the key', () => {
  it("REST secret_data deletion revokes the current version's key, and only the current one", async () => {
    await start();
    const id = iamSecret('bucket', false);
    const old = await read('bucket');
    const current = await read('bucket');
    const bearer = { authorization: `Bearer ${await iamToken(em.url, MANAGER_KEY)}` };
    const versionOf = (apiKeyServiceId: string) =>
      em.credentials().find((c) => c.serviceId === apiKeyServiceId)!.id;

    const notCurrent = await fetch(
      `${em.url}/api/v2/secrets/${id}/versions/${versionOf(old.data.service_id)}/secret_data`,
      {
        method: 'DELETE',
        headers: bearer,
      },
    );
    expect(notCurrent.status).toBe(400);

    const res = await fetch(
      `${em.url}/api/v2/secrets/${id}/versions/${versionOf(current.data.service_id)}/secret_data`,
      {
        method: 'DELETE',
        headers: bearer,
      },
    );
    expect(res.status).toBe(204);
    expect(await accepted(current.data.api_key)).toBe(false);
    expect(await accepted(old.data.api_key)).toBe(true);
    expect(em.counters().credentialsRevoked).toMatchObject({
      total: 1,
      byRoute: { secretData: 1 },
    });
  });

  it('accepts the `current` alias and lets the next reuse read mint a new key', async () => {
    await start();
    const id = iamSecret('reused', true);
    const cred = await read('reused');
    const res = await fetch(`${em.url}/api/v2/secrets/${id}/versions/current/secret_data`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await iamToken(em.url, MANAGER_KEY)}` },
    });
    expect(res.status).toBe(204);
    expect(await accepted(cred.data.api_key)).toBe(false);
    expect((await read('reused')).data.api_key).not.toBe(cred.data.api_key);
  });

  it('IAM Identity service-ID deletion revokes the key', async () => {
    await start();
    iamSecret('bucket', false);
    const cred = await read('bucket');
    const res = await fetch(`${em.url}/v1/serviceids/${cred.data.service_id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${await iamToken(em.url, MANAGER_KEY)}` },
    });
    expect(res.status).toBe(204);
    expect(await accepted(cred.data.api_key)).toBe(false);
    expect(em.counters().credentialsRevoked.byRoute.serviceId).toBe(1);
  });

  it('sys/leases/revoke revokes a leased key when the emulator hands out lease IDs', async () => {
    await start({ leaseIds: true });
    iamSecret('bucket', false);
    const cred = await read('bucket');
    expect(cred.lease_id).toMatch(/^ibmcloud\/iam_credentials\/creds\/bucket\//);
    expect(cred.lease_duration).toBe(600);
    const res = await vaultCall(em.url, vt, 'PUT', '/v1/sys/leases/revoke', {
      lease_id: cred.lease_id,
    });
    expect(res.status).toBe(204);
    expect(await accepted(cred.data.api_key)).toBe(false);
    // Revoking again is not an error; an unknown lease is.
    expect(
      (await vaultCall(em.url, vt, 'PUT', '/v1/sys/leases/revoke', { lease_id: cred.lease_id }))
        .status,
    ).toBe(204);
    expect(
      (await vaultCall(em.url, vt, 'PUT', '/v1/sys/leases/revoke', { lease_id: 'nope' })).status,
    ).toBe(400);
    expect(em.counters().credentialsRevoked.byRoute.leaseRevoke).toBe(1);
  });

  it('sys/leases/revoke is an undocumented path (403) without lease IDs, like the real service', async () => {
    await start();
    iamSecret('bucket', false);
    const cred = await read('bucket');
    const res = await vaultCall(em.url, vt, 'PUT', '/v1/sys/leases/revoke', { lease_id: 'x' });
    expect(res.status).toBe(403);
    expect(await accepted(cred.data.api_key)).toBe(true);
  });

  it('deleting the secret revokes every key it issued', async () => {
    await start();
    iamSecret('bucket', false);
    const a = await read('bucket');
    const b = await read('bucket');
    expect(
      (await vaultCall(em.url, vt, 'DELETE', '/v1/ibmcloud/iam_credentials/roles/bucket')).status,
    ).toBe(200);
    expect(await accepted(a.data.api_key)).toBe(false);
    expect(await accepted(b.data.api_key)).toBe(false);
    expect(em.counters().credentialsRevoked.byRoute.secretDelete).toBe(2);
  });
});
