import { afterEach, describe, expect, it } from 'vitest';
import { flush, until } from '../runtime/testing/fake-clock.ts';
import { isInvalidRequest, isInvalidResponse, isNotFound } from './errors.ts';
import {
  arbitraryData,
  CERT,
  INTERMEDIATE,
  iamCredentialsData,
  importedCertData,
  kvData,
  privateCertData,
  publicCertData,
  serviceCredentialsData,
  usernamePasswordData,
  VALUES,
} from './testing/fixtures.ts';
import { deferred, type MockSecretsManager, vaultEnvelope } from './testing/mock-server.ts';
import { metricValue, setup } from './testing/setup.ts';
import { secretFields } from './types.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function env(over: Parameters<typeof setup>[0] = {}) {
  const s = setup(over);
  server = s.server;
  return s;
}

const ok = (data: unknown, extra?: Record<string, unknown>) => ({
  status: 200,
  body: vaultEnvelope(data, extra),
});

describe('reading each secret type', () => {
  it('parses an arbitrary secret by ID in the default group', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/arbitrary/secrets/582a8f65', () => ok(arbitraryData()));
    const s = await run(client.getSecret({ type: 'arbitrary', id: '582a8f65' }));
    expect(s.type).toBe('arbitrary');
    if (s.type !== 'arbitrary') return;
    expect(s.payload).toBe(VALUES.arbitrary);
    expect(s.metadata).toMatchObject({
      id: '582a8f65-9a2b-a072-4fc3-e69ff3462c23',
      name: 'test-arbitrary-secret',
      groupId: 'default',
      labels: ['dev', 'us-south'],
      expiresAt: '2030-04-01T09:30:00Z',
      currentVersionId: '03d9ddb3-aa1d-d929-40c8-04027213ef08',
    });
  });

  it('reads by name in a named group and URL-encodes both', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/kv/secrets/groups/grp%201/my%2Fkv', () =>
      ok(kvData({ secret_group_id: 'grp 1' })),
    );
    const s = await run(client.getSecret({ type: 'kv', name: 'my/kv', group: 'grp 1' }));
    if (s.type !== 'kv') throw new Error('type');
    expect(s.payload).toEqual({ key1: 'value1', nested: { deep: VALUES.kvNested }, n: 3 });
    expect(s.metadata.groupId).toBe('grp 1');
    expect(s.metadata.currentVersionId).toBe('v2-current');
    expect(secretFields(s)).toEqual({
      key1: 'value1',
      nested: JSON.stringify({ deep: VALUES.kvNested }),
      n: '3',
    });
  });

  it('treats group "default" as the default group path', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/username_password/secrets/u1', () => ok(usernamePasswordData()));
    const s = await run(
      client.getSecret({ type: 'username_password', id: 'u1', group: 'default' }),
    );
    if (s.type !== 'username_password') throw new Error('type');
    expect([s.username, s.password]).toEqual(['user123', VALUES.password]);
    expect(secretFields(s)).toEqual({ username: 'user123', password: VALUES.password });
  });

  it.each([
    ['imported_cert', importedCertData()],
    ['public_cert', publicCertData()],
  ] as const)('parses a %s with key and intermediate', async (type, data) => {
    const { server, client, run } = env();
    server.vaultGet(`/v1/ibmcloud/${type}/secrets/c1`, () => ok(data));
    const s = await run(client.getSecret({ type, id: 'c1' }));
    if (s.type !== type) throw new Error('type');
    if (s.type === 'imported_cert' || s.type === 'public_cert') {
      expect(s).toMatchObject({
        certificate: CERT,
        intermediate: INTERMEDIATE,
        privateKey: VALUES.privateKey,
        commonName: 'example.com',
        serialNumber: 'fc:22:29:7e:57:25:8a:05',
        notAfter: '2031-06-04T15:25:44Z',
      });
      expect(Object.keys(secretFields(s)).sort()).toEqual([
        'certificate',
        'intermediate',
        'private_key',
      ]);
    }
  });

  it('parses a private_cert with its issuing CA and chain', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/private_cert/secrets/p1', () => ok(privateCertData()));
    const s = await run(client.getSecret({ type: 'private_cert', id: 'p1' }));
    if (s.type !== 'private_cert') throw new Error('type');
    expect(s.issuingCa).toBe(INTERMEDIATE);
    expect(s.caChain).toEqual([INTERMEDIATE, CERT]);
    expect(secretFields(s).ca_chain).toBe(`${INTERMEDIATE}\n${CERT}`);
  });

  it('parses service_credentials as a map, nested values JSON-encoded', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/service_credentials/secrets/s1', () =>
      ok(serviceCredentialsData()),
    );
    const s = await run(client.getSecret({ type: 'service_credentials', id: 's1' }));
    if (s.type !== 'service_credentials') throw new Error('type');
    expect(s.credentials.apikey).toBe(VALUES.serviceApiKey);
    expect(JSON.parse(secretFields(s).cos_hmac_keys ?? '')).toEqual({
      access_key_id: 'hmac-id',
      secret_access_key: 'hmac-secret',
    });
  });

  it('reads iam_credentials through the creds route', async () => {
    const { server, client, run, clock } = env();
    server.vaultGet('/v1/ibmcloud/iam_credentials/creds/test-iam-credentials', () =>
      ok(iamCredentialsData({ ttl: '30m', api_key_id: 'ApiKey-1', reuse_api_key: true })),
    );
    const s = await run(
      client.getSecret({ type: 'iam_credentials', name: 'test-iam-credentials' }),
    );
    if (s.type !== 'iam_credentials') throw new Error('type');
    expect(s.credentials).toEqual({
      apiKey: VALUES.iamApiKey,
      apiKeyId: 'ApiKey-1',
      serviceId: 'ServiceId-43c79ec9-7f02-481d-92f1-e60363483298',
      ttlSeconds: 1800,
      leaseDuration: 0,
      renewable: false,
      secretId: 'd7a2b83f-997c-4914-857a-86bfcdbf0873',
      secretName: 'test-iam-credentials',
      groupId: 'default',
      reuseApiKey: true,
      // last_update_date: when these credentials were generated.
      createdAt: Date.parse('2020-12-16T20:54:52Z'),
      receivedAt: clock.now(),
    });
    expect(secretFields(s)).toEqual({
      api_key: VALUES.iamApiKey,
      service_id: 'ServiceId-43c79ec9-7f02-481d-92f1-e60363483298',
    });
  });

  it('getIamCredentials keeps a lease ID when the server hands one out', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/iam_credentials/creds/groups/g1/c1', () =>
      ok(iamCredentialsData({ secret_group_id: 'g1' }), {
        lease_id: 'ibmcloud/iam_credentials/creds/c1/abc',
        lease_duration: 1800,
        renewable: true,
      }),
    );
    const c = await run(client.getIamCredentials({ id: 'c1', group: 'g1' }));
    expect(c).toMatchObject({
      leaseId: 'ibmcloud/iam_credentials/creds/c1/abc',
      leaseDuration: 1800,
      renewable: true,
      groupId: 'g1',
      ttlSeconds: 1800,
    });
    expect(c.leaseId).toBeDefined();
  });

  it('an empty lease_id (IBM) gives no leaseId', async () => {
    const { server, client, run } = env();
    server.vaultGet(/creds\/c1$/, () => ok(iamCredentialsData()));
    const c = await run(client.getIamCredentials({ id: 'c1' }));
    expect('leaseId' in c).toBe(false);
  });

  it('a response of another type than asked is an InvalidResponse', async () => {
    const { server, client, fail } = env();
    server.vaultGet(/kv\/secrets\/x$/, () => ok(arbitraryData()));
    const e = await fail(client.getSecret({ type: 'kv', id: 'x' }));
    expect(isInvalidResponse(e)).toBe(true);
  });

  it('a malformed body is an InvalidResponse naming the field', async () => {
    const { server, client, fail } = env();
    server.vaultGet(/arbitrary\/secrets\/x$/, () =>
      ok(arbitraryData({ secret_data: { payload: 42 } })),
    );
    const e = (await fail(client.getSecret({ type: 'arbitrary', id: 'x' }))) as Error;
    expect(isInvalidResponse(e)).toBe(true);
    expect(e.message).toContain('data.secret_data.payload');
  });

  it('404 is NotFound and not retried', async () => {
    const { server, client, fail } = env();
    server.vaultGet(/arbitrary\/secrets\/nope$/, () => ({
      status: 404,
      body: { errors: ['secret not found'] },
    }));
    const e = (await fail(client.getSecret({ type: 'arbitrary', name: 'nope' }))) as Error;
    expect(isNotFound(e)).toBe(true);
    expect(e.message).toContain('name=nope');
    expect(server.count('GET', /nope$/)).toBe(1);
  });
});

describe('references', () => {
  it.each([
    [{ type: 'arbitrary', id: 'a', name: 'b' }],
    [{ type: 'arbitrary' }],
    [{ type: 'arbitrary', id: '' }],
    [{ type: 'bogus', id: 'a' }],
    [{ type: 'iam_credentials', id: 'a', version: 'previous' }],
    [{ type: 'iam_credentials', name: 'a', version: '7b7c2f7e-aaaa' }],
  ])('rejects %j without a request', async (ref) => {
    const { server, client, fail } = env();
    const e = await fail(client.getSecret(ref as never));
    expect(isInvalidRequest(e)).toBe(true);
    expect(server.requests).toHaveLength(0);
  });

  it('explains why iam_credentials have no version to read', async () => {
    const { client, fail } = env();
    const ref = { type: 'iam_credentials', id: 'a', version: 'previous' } as const;
    const e = (await fail(client.getSecret(ref))) as Error;
    expect(e.message).toMatch(/mints a new API key on every read/);
    expect(isInvalidRequest(await fail(client.getSecretMetadata(ref)))).toBe(true);
  });

  it('accepts version "current"', async () => {
    const { server, client, run } = env();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ok(arbitraryData()));
    const s = await run(client.getSecret({ type: 'arbitrary', id: 'a', version: 'current' }));
    expect(s.type).toBe('arbitrary');
  });
});

describe('listing', () => {
  const listed = (type: string, items: Array<Record<string, unknown>>) =>
    ok({
      secrets: items.map((i) => ({ id: `${i.name}-id`, secret_type: type, labels: [], ...i })),
      secrets_total: items.length,
    });

  it('filters by labels and name regexp within one type', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/arbitrary/secrets', () =>
      listed('arbitrary', [
        { name: 'app-db', labels: ['dev', 'db'] },
        { name: 'app-cache', labels: ['dev'] },
        { name: 'other-db', labels: ['dev', 'db'], secret_group_id: 'g2' },
      ]),
    );
    const all = await run(client.listSecrets({ type: 'arbitrary' }));
    expect(all.map((m) => m.name)).toEqual(['app-db', 'app-cache', 'other-db']);
    const some = await run(
      client.listSecrets({ type: 'arbitrary', labels: ['db'], nameRegex: /^app-/g }),
    );
    expect(some.map((m) => m.name)).toEqual(['app-db']);
    const defaultOnly = await run(client.listSecrets({ type: 'arbitrary', group: 'default' }));
    expect(defaultOnly.map((m) => m.name)).toEqual(['app-db', 'app-cache']);
  });

  it('lists a named group through its group path', async () => {
    const { server, client, run } = env();
    server.vaultGet('/v1/ibmcloud/kv/secrets/groups/g2', () =>
      listed('kv', [{ name: 'k', secret_group_id: 'g2' }]),
    );
    const r = await run(client.listSecrets({ type: 'kv', group: 'g2' }));
    expect(r).toEqual([expect.objectContaining({ name: 'k', type: 'kv', groupId: 'g2' })]);
  });

  it('without a type lists every engine and skips ones that are absent', async () => {
    const { server, client, run } = env();
    server.vaultGet(/^\/v1\/ibmcloud\/[a-z_]+\/(secrets|roles)$/, () => ({
      status: 404,
      body: { errors: ['no handler for route'] },
    }));
    server.vaultGet('/v1/ibmcloud/kv/secrets', () => listed('kv', [{ name: 'k' }]));
    server.vaultGet('/v1/ibmcloud/iam_credentials/roles', () =>
      listed('iam_credentials', [{ name: 'i' }]),
    );
    const r = await run(client.listSecrets());
    expect(r.map((m) => `${m.type}/${m.name}`).sort()).toEqual(['iam_credentials/i', 'kv/k']);
    expect(server.count('GET', /^\/v1\/ibmcloud\/[a-z_]+\/(secrets|roles)$/)).toBe(8);
  });
});

describe('coalescing', () => {
  it('shares one request among identical concurrent reads', async () => {
    const { server, client, run, registry } = env();
    const hold = deferred();
    server.vaultGet(/arbitrary\/secrets\/a$/, async () => {
      await hold.promise;
      return ok(arbitraryData());
    });
    const reads = Array.from({ length: 10 }, () =>
      client.getSecret({ type: 'arbitrary', id: 'a' }),
    );
    server.vaultGet(/groups\/g\/a$/, () => ok(arbitraryData()));
    const other = client.getSecret({ type: 'arbitrary', id: 'a', group: 'g' });
    const all = Promise.all([...reads, other]);
    await until(() => server.count('GET', /groups\/g\/a$/) === 1);
    await flush();
    hold.resolve();
    const results = await run(all);
    expect(results).toHaveLength(11);
    expect(server.count('GET', /arbitrary\/secrets\/a$/)).toBe(1);
    expect(server.count('GET', /groups\/g\/a$/)).toBe(1);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_coalesced_requests_total'),
    ).toBe(9);
    // Nothing is cached: the next read after they settle goes to the server again.
    await run(client.getSecret({ type: 'arbitrary', id: 'a' }));
    expect(server.count('GET', /arbitrary\/secrets\/a$/)).toBe(2);
  });

  it('never coalesces iam_credentials reads: each one mints', async () => {
    const { server, client, run } = env();
    let n = 0;
    const hold = deferred();
    server.vaultGet(/creds\/c1$/, async () => {
      n += 1;
      const mine = n;
      await hold.promise;
      return ok(
        iamCredentialsData({ api_key: `minted-key-${mine}`, service_id: `ServiceId-${mine}` }),
      );
    });
    const reads = Promise.all(
      Array.from({ length: 5 }, () => client.getIamCredentials({ id: 'c1' })),
    );
    await until(() => n === 5);
    hold.resolve();
    const creds = await run(reads);
    expect(server.count('GET', /creds\/c1$/)).toBe(5);
    expect(new Set(creds.map((c) => c.apiKey)).size).toBe(5);
  });
});

describe('metrics', () => {
  it('counts requests by operation and status, exchanges and logins', async () => {
    const { server, client, run, registry } = env();
    server.vaultGet(/arbitrary\/secrets\/a$/, () => ok(arbitraryData()));
    server.vaultGet(/arbitrary\/secrets\/missing$/, () => ({
      status: 404,
      body: { errors: ['x'] },
    }));
    await run(client.getSecret({ type: 'arbitrary', id: 'a' }));
    await run(client.getSecret({ type: 'arbitrary', id: 'a' }));
    await run(client.getSecret({ type: 'arbitrary', id: 'missing' })).catch(() => {});
    const m = 'secrets_manager_operator_sm_';
    expect(
      await metricValue(registry, `${m}requests_total`, { operation: 'get_secret', status: '200' }),
    ).toBe(2);
    expect(
      await metricValue(registry, `${m}requests_total`, { operation: 'get_secret', status: '404' }),
    ).toBe(1);
    expect(
      await metricValue(registry, `${m}requests_total`, { operation: 'iam_token', status: '200' }),
    ).toBe(1);
    expect(
      await metricValue(registry, `${m}iam_token_exchanges_total`, { result: 'success' }),
    ).toBe(1);
    expect(await metricValue(registry, `${m}vault_logins_total`, { result: 'success' })).toBe(1);
    const text = await registry.metrics();
    expect(text).toContain(`${m}request_duration_seconds_bucket`);
    expect(text).toContain(`${m}retries_total`);
  });
});
