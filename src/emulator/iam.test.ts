import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { exchange, iamToken, MANAGER_KEY, startTestEmulator, vaultCall } from './testing.ts';

let em: Emulator;
afterEach(() => em.stop());

describe('IAM token exchange', () => {
  it('returns the documented token fields for a known API key', async () => {
    const start = Date.parse('2030-01-01T00:00:00Z');
    em = await startTestEmulator({ clock: () => start });
    const res = await exchange(em.url, MANAGER_KEY);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual([
      'access_token',
      'expiration',
      'expires_in',
      'refresh_token',
      'token_type',
    ]);
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      expiration: start / 1000 + 3600,
    });
    // JWT-shaped: three base64url parts, the middle one JSON with the expiry.
    const [, payload] = String(body.access_token).split('.');
    expect(JSON.parse(Buffer.from(payload!, 'base64url').toString())).toMatchObject({
      exp: start / 1000 + 3600,
    });
  });

  it("answers IAM's error shape with HTTP 400 for an unknown key, a missing key and a wrong grant", async () => {
    em = await startTestEmulator();
    const unknown = await exchange(em.url, 'no-such-key');
    expect(unknown.status).toBe(400);
    const body = (await unknown.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      errorCode: 'BXNIM0415E',
      errorMessage: 'Provided API key could not be found.',
    });
    expect(body.context).toEqual(expect.objectContaining({ requestId: expect.any(String) }));

    const missing = await fetch(`${em.url}/identity/token`, {
      method: 'POST',
      body: 'grant_type=urn:ibm:params:oauth:grant-type:apikey',
    });
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ errorCode: 'BXNIM0109E' });

    const grant = await fetch(`${em.url}/identity/token`, {
      method: 'POST',
      body: 'grant_type=password&apikey=x',
    });
    expect(grant.status).toBe(400);
    expect(await grant.json()).toMatchObject({ errorCode: expect.stringMatching(/^BXNIM/) });
    expect(em.counters()).toMatchObject({ iamTokenExchanges: 3, iamTokenExchangeFailures: 3 });
  });

  it('issues access tokens that expire: an expired one no longer logs in to Vault', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    em = await startTestEmulator({ clock: () => now, iamTokenTtlSeconds: 600 });
    const token = await iamToken(em.url, MANAGER_KEY);
    now += 599_000;
    expect(
      (await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token })).status,
    ).toBe(200);
    now += 1_000;
    const late = await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', { token });
    expect(late.status).toBe(403);
    expect(late.json).toEqual({ errors: ['permission denied'] });
  });

  it('shortens the lifetime of new tokens when the fault asks for it', async () => {
    em = await startTestEmulator();
    em.setFaults({ iamTokenTtlSeconds: 5 });
    expect(await (await exchange(em.url, MANAGER_KEY)).json()).toMatchObject({ expires_in: 5 });
  });
});

describe('IAM Identity service-ID deletion', () => {
  it('needs a valid bearer token and answers 404 for an unknown service ID', async () => {
    em = await startTestEmulator();
    const anonymous = await fetch(`${em.url}/v1/serviceids/ServiceId-x`, { method: 'DELETE' });
    expect(anonymous.status).toBe(401);
    const token = await iamToken(em.url, MANAGER_KEY);
    const missing = await fetch(`${em.url}/v1/serviceids/ServiceId-x`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({
      errors: [{ code: 'not_found' }],
      status_code: 404,
    });
  });
});
