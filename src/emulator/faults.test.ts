import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { exchange, MANAGER_KEY, startTestEmulator, vaultCall, vaultLogin } from './testing.ts';

let em: Emulator;
afterEach(() => em.stop());

const READ = 'GET /v1/ibmcloud/arbitrary/secrets/{id}';

describe('fault injection', () => {
  it('fails every request with the chosen status, in the shape of the service that owns the route', async () => {
    em = await startTestEmulator();
    const id = em.createSecret({ type: 'arbitrary', name: 'x1', payload: 'p' });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    em.setFaults({ errorRate: 1, errorStatus: 502 });
    const vault = await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}`);
    expect(vault.status).toBe(502);
    expect(vault.json).toEqual({ errors: [expect.any(String)] });
    const iam = await exchange(em.url, MANAGER_KEY);
    expect(iam.status).toBe(502);
    expect(await iam.json()).toMatchObject({
      errorCode: expect.any(String),
      errorMessage: expect.any(String),
    });
    expect(em.counters().faults.errors).toBe(2);
  });

  it('answers 429 with Retry-After in seconds or as an HTTP date', async () => {
    em = await startTestEmulator({ faults: { rateLimitRate: 1, retryAfter: 7 } });
    let res = await exchange(em.url, MANAGER_KEY);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
    const date = 'Wed, 21 Oct 2030 07:28:00 GMT';
    em.setFaults({ retryAfter: date });
    res = await exchange(em.url, MANAGER_KEY);
    expect(res.headers.get('retry-after')).toBe(date);
    expect(em.counters().faults.rateLimited).toBe(2);
  });

  it('limits faults to the listed routes, by exact route or glob', async () => {
    em = await startTestEmulator();
    const id = em.createSecret({ type: 'arbitrary', name: 'x1', payload: 'p' });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    em.setFaults({ errorRate: 1, routes: [READ] });
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}`)).status,
    ).toBe(503);
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}/metadata`)).status,
    ).toBe(200);
    em.setFaults({ routes: ['* /v1/ibmcloud/*/secrets/{id}/metadata'] });
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}`)).status,
    ).toBe(200);
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}/metadata`)).status,
    ).toBe(503);
    em.setFaults({ routes: null, errorRate: 0 });
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${id}/metadata`)).status,
    ).toBe(200);
  });

  it('applies a fraction of errors drawn from the random source', async () => {
    const draws = [0.1, 0.9, 0.2, 0.95];
    let i = 0;
    em = await startTestEmulator({
      random: () => draws[i++ % draws.length]!,
      faults: { errorRate: 0.5 },
    });
    const statuses = [];
    for (let n = 0; n < 4; n++) statuses.push((await exchange(em.url, MANAGER_KEY)).status);
    expect(statuses).toEqual([503, 200, 503, 200]);
  });

  it('delays responses by the configured latency', async () => {
    em = await startTestEmulator({ faults: { latencyMs: 30 } });
    const started = performance.now();
    expect((await exchange(em.url, MANAGER_KEY)).status).toBe(200);
    // A lower bound only: a loaded machine can only make it slower.
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(em.counters().faults.delayed).toBe(1);
  });
});

describe('counters', () => {
  it('count requests by route and status, token exchanges, logins and credentials', async () => {
    em = await startTestEmulator();
    em.createSecret({
      type: 'iam_credentials',
      name: 'cred',
      access_groups: ['AccessGroupId-1'],
      ttl: '1h',
    });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/iam_credentials/creds/cred');
    await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/iam_credentials/creds/missing');
    const c = em.counters();
    expect(c.requests['GET /v1/ibmcloud/iam_credentials/creds/{id}']).toEqual({
      '200': 1,
      '404': 1,
    });
    expect(c.requests['POST /identity/token']).toEqual({ '200': 1 });
    expect(c).toMatchObject({
      iamTokenExchanges: 1,
      logins: 1,
      credentialsMinted: 1,
      activeCredentials: 1,
    });
    em.resetCounters();
    expect(em.counters().requests).toEqual({});
  });
});

describe('admin API', () => {
  async function admin(method: string, path: string, body?: unknown) {
    const res = await fetch(`${em.url}/__emulator${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : undefined };
  }

  it('sets faults and reports counters at run time, without counting itself', async () => {
    em = await startTestEmulator();
    expect((await admin('PUT', '/faults', { errorRate: 1, errorStatus: 500 })).json).toMatchObject({
      errorRate: 1,
    });
    expect((await exchange(em.url, MANAGER_KEY)).status).toBe(500);
    expect((await admin('PUT', '/faults', { errorRate: 2 })).status).toBe(400);
    await admin('DELETE', '/faults');
    expect((await exchange(em.url, MANAGER_KEY)).status).toBe(200);
    const counters = (await admin('GET', '/counters')).json;
    expect(counters.requests).toEqual({ 'POST /identity/token': { '200': 1, '500': 1 } });
    expect(counters.iamTokenExchanges).toBe(1);
  });

  it('creates secrets and API keys, probes keys, moves the clock and resets', async () => {
    em = await startTestEmulator({ minCredentialTtlSeconds: 5 });
    const created = await admin('POST', '/secrets', {
      type: 'iam_credentials',
      name: 'c1',
      access_groups: ['AccessGroupId-1'],
      ttl: 10,
    });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({
      id: expect.any(String),
      type: 'iam_credentials',
      group_id: 'default',
    });
    expect((await admin('POST', '/api-keys', { key: 'extra', role: 'SecretsReader' })).status).toBe(
      204,
    );
    const vt = await vaultLogin(em.url, 'extra');
    const cred = await vaultCall(
      em.url,
      vt,
      'GET',
      `/v1/ibmcloud/iam_credentials/creds/${created.json.id}`,
    );
    const apikey = cred.json.data.api_key;
    expect((await admin('POST', '/api-keys/validate', { apikey })).json).toEqual({ valid: true });
    await admin('POST', '/clock', { advanceSeconds: 10 });
    expect((await admin('POST', '/api-keys/validate', { apikey })).json).toEqual({ valid: false });
    const creds = (await admin('GET', '/credentials')).json.credentials;
    expect(creds).toHaveLength(1);
    expect(creds[0]).toMatchObject({ state: 'expired' });
    expect(JSON.stringify(creds)).not.toContain(apikey);
    expect((await admin('POST', '/reset')).status).toBe(204);
    expect((await exchange(em.url, 'extra')).status).toBe(400);
    expect((await admin('POST', '/secrets', { type: 'kv', name: 'bad' })).status).toBe(400);
  });
});
