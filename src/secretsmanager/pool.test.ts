import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, settle } from '../runtime/testing/fake-clock.ts';
import type { SecretsManagerClient, SecretsManagerClientOptions } from './client.ts';
import { connectionFingerprint, SecretsManagerClientPool } from './pool.ts';
import { arbitraryData } from './testing/fixtures.ts';
import {
  API_KEY,
  IAM_URL,
  MockSecretsManager,
  SM_URL,
  vaultEnvelope,
} from './testing/mock-server.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const conn = { url: SM_URL, iamUrl: IAM_URL, apiKey: API_KEY };

function fakeFactory() {
  const built: Array<{ opts: SecretsManagerClientOptions; closed: boolean }> = [];
  const factory = (opts: SecretsManagerClientOptions): SecretsManagerClient => {
    const entry = { opts, closed: false };
    built.push(entry);
    const notUsed = () => Promise.reject(new Error('not used'));
    return {
      validate: notUsed,
      getSecret: notUsed,
      listSecrets: notUsed,
      getSecretMetadata: notUsed,
      getIamCredentials: notUsed,
      revokeLease: notUsed,
      deleteSecretVersionData: notUsed,
      deleteServiceId: notUsed,
      close: async () => {
        entry.closed = true;
      },
    };
  };
  return { built, factory };
}

describe('SecretsManagerClientPool', () => {
  it('returns the same client for the same store and settings', () => {
    const { built, factory } = fakeFactory();
    const pool = new SecretsManagerClientPool({ factory });
    const a = pool.get('uid-1', conn);
    const b = pool.get('uid-1', { ...conn });
    expect(a).toBe(b);
    expect(built).toHaveLength(1);
    expect(pool.get('uid-2', conn)).not.toBe(a);
    expect(pool.size).toBe(2);
  });

  it('replaces and closes a client when the API key, URL or CA changes', () => {
    const { built, factory } = fakeFactory();
    const pool = new SecretsManagerClientPool({ factory });
    const a = pool.get('uid-1', conn);
    const b = pool.get('uid-1', { ...conn, apiKey: 'another-key-123456' });
    expect(b).not.toBe(a);
    expect(built[0]?.closed).toBe(true);
    pool.get('uid-1', { ...conn, apiKey: 'another-key-123456', caBundle: 'PEM' });
    pool.get('uid-1', {
      ...conn,
      apiKey: 'another-key-123456',
      caBundle: 'PEM',
      url: 'https://x.test',
    });
    expect(built.map((x) => x.closed)).toEqual([true, true, true, false]);
  });

  it('evicts deleted stores and keeps only live ones on retain', async () => {
    const { built, factory } = fakeFactory();
    const pool = new SecretsManagerClientPool({ factory });
    pool.get('a', conn);
    pool.get('b', conn);
    pool.get('c', conn);
    await pool.evict('a');
    await pool.retain(['c']);
    expect(pool.size).toBe(1);
    expect(built.map((x) => x.closed)).toEqual([true, true, false]);
    await pool.close();
    expect(built.every((x) => x.closed)).toBe(true);
  });

  it('fingerprints never contain the API key', () => {
    const fp = connectionFingerprint(conn);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fp).not.toContain(API_KEY);
    expect(connectionFingerprint({ ...conn, apiKey: `${API_KEY}x` })).not.toBe(fp);
  });

  it('gives one IAM exchange and one login per store across many reconciles', async () => {
    server = new MockSecretsManager();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ({
      status: 200,
      body: vaultEnvelope(arbitraryData()),
    }));
    const clock = new FakeClock();
    const registry = new Registry();
    const pool = new SecretsManagerClientPool({ dispatcher: server.agent, clock, registry });
    for (let i = 0; i < 10; i++) {
      // Each "reconcile" asks the pool again, as a controller would.
      const client = pool.get('store-uid', { ...conn });
      await settle(client.getSecret({ type: 'arbitrary', id: 'a' }), clock);
    }
    expect(server.count('POST', '/identity/token')).toBe(1);
    expect(server.count('PUT', '/v1/auth/ibmcloud/login')).toBe(1);
    expect(server.count('GET', /arbitrary/)).toBe(10);
    // Metrics of every pooled client land on the one registry.
    expect(await registry.metrics()).toContain('secrets_manager_operator_sm_requests_total');
    await pool.close();
  });
});
