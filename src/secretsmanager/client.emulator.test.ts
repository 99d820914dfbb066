/**
 * The client against the real emulator (in-process, real HTTP on a free port): the behaviours of
 * the unit tests, now with the emulator's own token lifetimes, roles and fault injection.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Emulator, loadSeedFile, type SeedData, startEmulator } from '../emulator/index.ts';
import { HttpSecretsManagerClient, type SecretsManagerClientOptions } from './client.ts';
import { type Clock, systemClock } from './clock.ts';
import {
  isForbidden,
  isRateLimited,
  isUnauthenticated,
  isUnavailable,
  type SecretsManagerError,
} from './errors.ts';
import { metricValue } from './testing/setup.ts';
import { SECRET_TYPES, secretFields } from './types.ts';

const MANAGER = 'emu-manager-key-5d41402abc4b2a76';
const READER = 'emu-reader-key-7215ee9c7d9dc229';
const GROUP_READER = 'emu-group-reader-key-6f8db599de98';
const TIMEOUT_MS = 9_999;
const SEED_PATH = new URL('../emulator/sample-seed.yaml', import.meta.url).pathname;

/**
 * The client's clock: real timers for request timeouts, instant backoff waits (recorded, with a
 * hook), and a `now` that tests move forward together with the emulator's clock.
 */
function testClock() {
  const state = {
    offset: 0,
    waits: [] as number[],
    onWait: undefined as ((ms: number) => void) | undefined,
  };
  const clock: Clock = {
    now: () => Date.now() + state.offset,
    setTimeout(fn, ms) {
      if (ms === TIMEOUT_MS) return systemClock.setTimeout(fn, ms);
      state.waits.push(ms);
      state.onWait?.(ms);
      return systemClock.setTimeout(fn, 0);
    },
  };
  return { clock, state };
}

let seed: SeedData;
let emu: Emulator;
let t: ReturnType<typeof testClock>;
let registry: Registry;
const clients: HttpSecretsManagerClient[] = [];

beforeAll(async () => {
  seed = await loadSeedFile(SEED_PATH);
});

beforeEach(async () => {
  t = testClock();
  registry = new Registry();
  emu = await startEmulator({
    apiKeys: [
      { key: MANAGER, role: 'Manager' },
      { key: READER, role: 'Reader' },
      { key: GROUP_READER, role: 'SecretsReader', groups: ['team-a'] },
    ],
    seed,
    clock: () => Date.now() + t.state.offset,
  });
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await emu.stop();
});

function client(over: Partial<SecretsManagerClientOptions> = {}) {
  const c = new HttpSecretsManagerClient({
    url: emu.url,
    iamUrl: emu.url,
    apiKey: MANAGER,
    clock: t.clock,
    random: () => 0.5,
    metrics: registry,
    requestTimeoutMs: TIMEOUT_MS,
    rateLimit: { qps: 10_000, burst: 10_000 },
    ...over,
  });
  clients.push(c);
  return c;
}

/** Requests the emulator saw for `"<METHOD> <route>"`, by status. */
function seen(route: string): Record<string, number> {
  return emu.counters().requests[route] ?? {};
}

function newIamSecret(name: string, reuse: boolean): string {
  return emu.createSecret({
    type: 'iam_credentials',
    name,
    access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
    ttl: '1h',
    reuse_api_key: reuse,
  });
}

describe('reads against the emulator', () => {
  it('lists and reads every secret type by ID and by name, in both groups', async () => {
    const c = client();
    const all = await c.listSecrets();
    expect(new Set(all.map((m) => m.type))).toEqual(new Set(SECRET_TYPES));
    expect(all.some((m) => m.groupId !== 'default')).toBe(true);
    for (const m of all) {
      const byId = await c.getSecret({ type: m.type, id: m.id, group: m.groupId });
      const byName = await c.getSecret({ type: m.type, name: m.name, group: m.groupId });
      expect(byId.metadata.id).toBe(m.id);
      expect(byName.metadata.id).toBe(m.id);
      const fields = secretFields(byId);
      expect(Object.keys(fields).length).toBeGreaterThan(0);
      if (byId.type.endsWith('_cert')) {
        expect(fields.certificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
      }
    }
    expect(emu.counters().iamTokenExchanges).toBe(1);
    expect(emu.counters().logins).toBe(1);
  });

  it('filters lists by group, labels and name', async () => {
    const c = client();
    const teamA = await c.listSecrets({ group: '5f1a3554-5f59-4164-8bfc-5eef0a20cf66' });
    expect(teamA.length).toBeGreaterThan(0);
    expect(teamA.every((m) => m.groupId === '5f1a3554-5f59-4164-8bfc-5eef0a20cf66')).toBe(true);
    const defaults = await c.listSecrets({ type: 'arbitrary', group: 'default' });
    expect(defaults.every((m) => m.groupId === 'default')).toBe(true);
    const labelled = await c.listSecrets({ labels: ['tls'] });
    expect(labelled.length).toBeGreaterThan(0);
    expect(labelled.every((m) => m.labels.includes('tls'))).toBe(true);
    const named = await c.listSecrets({ nameRegex: /^app-/ });
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((m) => m.name.startsWith('app-'))).toBe(true);
  });

  it('coalesces 20 identical concurrent reads into one request', async () => {
    const c = client();
    const [first] = await c.listSecrets({ type: 'kv', group: 'default' });
    emu.setFaults({ latencyMs: 100, routes: ['GET /v1/ibmcloud/kv/secrets/{id}'] });
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => c.getSecret({ type: 'kv', id: first!.id })),
    );
    expect(reads.every((r) => r.metadata.id === first!.id)).toBe(true);
    expect(seen('GET /v1/ibmcloud/kv/secrets/{id}')).toEqual({ 200: 1 });
  });
});

describe('IAM credentials against the emulator', () => {
  it('mints a new valid key per read, never coalesced', async () => {
    const c = client();
    const id = newIamSecret('cl-mint-each-read', false);
    const creds = await Promise.all([1, 2, 3].map(() => c.getIamCredentials({ id })));
    expect(new Set(creds.map((x) => x.apiKey)).size).toBe(3);
    expect(emu.counters().credentialsMinted).toBe(3);
    for (const x of creds) {
      expect(emu.isApiKeyValid(x.apiKey)).toBe(true);
      expect(x).toMatchObject({
        secretId: id,
        ttlSeconds: 3600,
        leaseDuration: 0,
        reuseApiKey: false,
      });
      expect(x.leaseId).toBeUndefined();
    }
  });

  it('returns the same key for a reuse_api_key secret', async () => {
    const c = client();
    newIamSecret('cl-reused', true);
    const a = await c.getIamCredentials({ name: 'cl-reused' });
    const b = await c.getIamCredentials({ name: 'cl-reused' });
    expect(b.apiKey).toBe(a.apiKey);
    expect(b.reuseApiKey).toBe(true);
    expect(emu.counters().credentialsReused).toBe(1);
  });

  it('reads the metadata of a credential secret, by ID and by name, without minting', async () => {
    const c = client();
    const minting = newIamSecret('cl-meta-mints', false);
    newIamSecret('cl-meta-reused', true);
    const a = await c.getSecretMetadata({ type: 'iam_credentials', id: minting });
    const b = await c.getSecretMetadata({ type: 'iam_credentials', name: 'cl-meta-reused' });
    expect(a).toMatchObject({ id: minting, name: 'cl-meta-mints', reuseApiKey: false });
    expect(b).toMatchObject({ name: 'cl-meta-reused', reuseApiKey: true });
    expect(emu.counters().credentialsMinted).toBe(0);
    const kv = seed.secrets?.find((x) => x.type === 'arbitrary');
    if (!kv?.name) throw new Error('the sample seed has an arbitrary secret with a name');
    const meta = await c.getSecretMetadata({ type: 'arbitrary', name: kv.name });
    expect(meta).toMatchObject({ type: 'arbitrary', name: kv.name });
    expect(JSON.stringify(meta)).not.toContain('payload');
  });

  it('revokes through the service ID route', async () => {
    const c = client();
    const id = newIamSecret('cl-revoke-sid', false);
    const cred = await c.getIamCredentials({ id });
    await c.deleteServiceId(cred.serviceId);
    expect(emu.isApiKeyValid(cred.apiKey)).toBe(false);
    expect(emu.counters().credentialsRevoked.byRoute.serviceId).toBe(1);
  });

  it('reads previous and a version ID through REST v2; an older version has no data', async () => {
    const c = client();
    const created = emu.createSecretDetailed({
      type: 'arbitrary',
      name: 'cl-versions',
      payload: 'one',
    });
    const id = created.id;
    const second = emu.rotateSecret(id, { payload: 'two' }) as string;
    const third = emu.rotateSecret(id, { payload: 'three' }) as string;
    const byName = { type: 'arbitrary', name: 'cl-versions' } as const;
    const payload = async (version: string) => {
      const s = await c.getSecret({ ...byName, version });
      return s.type === 'arbitrary' ? s.payload : undefined;
    };
    expect(await payload('current')).toBe('three');
    expect(await payload('previous')).toBe('two');
    expect(await payload(third)).toBe('three');
    expect(await payload(second)).toBe('two');
    expect(seen('GET /api/v2/secrets/{id}/versions/{version}')).toEqual({ 200: 3 });
    // The first version is older than previous: the service keeps only its metadata.
    const oldest = created.version_id as string;
    const e = await c.getSecret({ type: 'arbitrary', id, version: oldest }).catch((x) => x);
    expect((e as SecretsManagerError).code).toBe('InvalidRequest');
    expect((e as Error).message).toMatch(/keeps the data of the current and\s+previous/);
    const kv = emu.createSecret({ type: 'kv', name: 'cl-kv-versions', payload: { a: 1 } });
    emu.rotateSecret(kv, { payload: { a: 2 } });
    const prev = await c.getSecret({ type: 'kv', id: kv, version: 'previous' });
    expect(prev.type === 'kv' && prev.payload).toEqual({ a: 1 });
    const missing = await c
      .getSecret({ type: 'arbitrary', id, version: '00000000-0000-0000-0000-000000000000' })
      .catch((x) => x);
    expect((missing as SecretsManagerError).code).toBe('InvalidRequest');
    expect((missing as Error).message).toMatch(/does not exist \(the secret does\)/);
    const gone = await c
      .getSecret({
        type: 'arbitrary',
        id: '00000000-0000-0000-0000-000000000000',
        version: 'previous',
      })
      .catch((x) => x);
    expect((gone as SecretsManagerError).code).toBe('NotFound');
  });

  it('revokes through the secret-version data route (current version)', async () => {
    const c = client();
    const id = newIamSecret('cl-revoke-data', false);
    const cred = await c.getIamCredentials({ id });
    await c.deleteSecretVersionData(cred.secretId, cred.secretVersionId ?? 'current');
    expect(emu.isApiKeyValid(cred.apiKey)).toBe(false);
    expect(emu.counters().credentialsRevoked.byRoute.secretData).toBe(1);
  });

  it('revokes through sys/leases/revoke where the server hands out lease IDs', async () => {
    await emu.stop();
    emu = await startEmulator({
      apiKeys: [{ key: MANAGER, role: 'Manager' }],
      seed,
      leaseIds: true,
    });
    const c = client();
    const id = newIamSecret('cl-revoke-lease', false);
    const cred = await c.getIamCredentials({ id });
    expect(cred.leaseId).toBeTruthy();
    await c.revokeLease(cred.leaseId!);
    expect(emu.isApiKeyValid(cred.apiKey)).toBe(false);
    expect(emu.counters().credentialsRevoked.byRoute.leaseRevoke).toBe(1);
  });

  it('reports an already deleted service ID as NotFound', async () => {
    const c = client();
    const e = (await c
      .deleteServiceId('ServiceId-does-not-exist')
      .catch((x) => x)) as SecretsManagerError;
    expect(e.code).toBe('NotFound');
  });
});

describe('tokens against the emulator', () => {
  it('refreshes the IAM token and the login ahead of their shortened lifetimes', async () => {
    emu.setFaults({ iamTokenTtlSeconds: 100, vaultTokenTtlSeconds: 100 });
    const c = client();
    const ref = { type: 'arbitrary', name: 'database-url' } as const;
    await c.getSecret(ref);
    t.state.offset += 79_000;
    await c.getSecret(ref);
    expect([emu.counters().iamTokenExchanges, emu.counters().logins]).toEqual([1, 1]);
    t.state.offset += 2_000; // 81% of both lifetimes
    await c.getSecret(ref);
    expect([emu.counters().iamTokenExchanges, emu.counters().logins]).toEqual([2, 2]);
  });

  it('logs in again once when the server says the Vault token expired', async () => {
    const c = client();
    const ref = { type: 'arbitrary', name: 'database-url' } as const;
    await c.getSecret(ref);
    emu.advanceClock(2 * 3600_000); // the server's clock only: tokens expired there
    const s = await c.getSecret(ref);
    expect(s.type).toBe('arbitrary');
    expect(emu.counters().logins).toBe(2);
    expect(seen('GET /v1/ibmcloud/arbitrary/secrets/{id}')).toEqual({ 200: 2, 403: 1 });
  });

  it('a Reader key may list but not read values: Forbidden after one re-login', async () => {
    const c = client({ apiKey: READER });
    expect((await c.listSecrets({ type: 'arbitrary' })).length).toBeGreaterThan(0);
    const e = await c.getSecret({ type: 'arbitrary', name: 'database-url' }).catch((x) => x);
    expect(isForbidden(e)).toBe(true);
    expect(emu.counters().logins).toBe(2);
  });

  it('a key limited to one group is Forbidden elsewhere', async () => {
    const c = client({ apiKey: GROUP_READER });
    const inGroup = await c.listSecrets({
      group: '5f1a3554-5f59-4164-8bfc-5eef0a20cf66',
      type: 'arbitrary',
    });
    expect(inGroup.length).toBeGreaterThan(0);
    const first = inGroup[0]!;
    await c.getSecret({ type: 'arbitrary', id: first.id, group: first.groupId });
    const e = await c.getSecret({ type: 'arbitrary', name: 'database-url' }).catch((x) => x);
    expect(isForbidden(e)).toBe(true);
  });

  it('an unknown API key is Unauthenticated and IAM is not asked again at once', async () => {
    const c = client({ apiKey: 'not-a-key-of-this-emulator' });
    const e = (await c.validate().catch((x) => x)) as SecretsManagerError;
    expect(isUnauthenticated(e)).toBe(true);
    expect(e.message).toContain('BXNIM0415E');
    expect(e.message).not.toContain('not-a-key-of-this-emulator');
    await c.validate().catch(() => {});
    expect(emu.counters().iamTokenExchanges).toBe(1);
  });
});

describe('fault injection', () => {
  const route = 'GET /v1/ibmcloud/arbitrary/secrets/{id}';
  const ref = { type: 'arbitrary', name: 'database-url' } as const;

  it('retries 503s with backoff and gives up after 4 attempts', async () => {
    const c = client();
    await c.validate();
    emu.setFaults({ errorRate: 1, errorStatus: 503, routes: [route] });
    const e = await c.getSecret(ref).catch((x) => x);
    expect(isUnavailable(e)).toBe(true);
    expect(seen(route)).toEqual({ 503: 4 });
    expect(t.state.waits).toEqual([188, 375, 750]);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_retries_total', {
        operation: 'get_secret',
        reason: 'server_error',
      }),
    ).toBe(3);
  });

  it('recovers when the errors stop during the backoff', async () => {
    const c = client();
    emu.setFaults({ errorRate: 1, errorStatus: 502, routes: [route] });
    t.state.onWait = () => emu.setFaults({ errorRate: 0 });
    await c.getSecret(ref);
    expect(seen(route)).toEqual({ 502: 1, 200: 1 });
  });

  it('waits out a 429 with Retry-After in seconds', async () => {
    const c = client();
    emu.setFaults({ rateLimitRate: 1, retryAfter: 2, routes: [route] });
    t.state.onWait = () => emu.setFaults({ rateLimitRate: 0 });
    await c.getSecret(ref);
    expect(t.state.waits).toEqual([2000]);
    expect(seen(route)).toEqual({ 429: 1, 200: 1 });
  });

  it('waits out a 429 with Retry-After as an HTTP date', async () => {
    const c = client();
    const at = new Date(Date.now() + 20_000).toUTCString();
    emu.setFaults({ rateLimitRate: 1, retryAfter: at, routes: [route] });
    t.state.onWait = () => emu.setFaults({ rateLimitRate: 0 });
    await c.getSecret(ref);
    expect(t.state.waits).toHaveLength(1);
    expect(t.state.waits[0]).toBeGreaterThan(10_000);
    expect(t.state.waits[0]).toBeLessThanOrEqual(20_000);
  });

  it('hands a long Retry-After back to the caller instead of holding it', async () => {
    const c = client();
    emu.setFaults({ rateLimitRate: 1, retryAfter: 300, routes: [route] });
    const e = (await c.getSecret(ref).catch((x) => x)) as SecretsManagerError;
    expect(isRateLimited(e)).toBe(true);
    expect(e.retryAfterMs).toBe(300_000);
    expect(t.state.waits).toEqual([]);
  });

  it('does not retry a creds read that failed with a 5xx', async () => {
    const c = client();
    const id = newIamSecret('cl-no-retry', false);
    emu.setFaults({
      errorRate: 1,
      errorStatus: 500,
      routes: ['GET /v1/ibmcloud/iam_credentials/creds/{id}'],
    });
    const e = await c.getIamCredentials({ id }).catch((x) => x);
    expect(isUnavailable(e)).toBe(true);
    expect(seen('GET /v1/ibmcloud/iam_credentials/creds/{id}')).toEqual({ 500: 1 });
  });

  it('counts requests by operation and status in the metrics', async () => {
    const c = client();
    await c.getSecret(ref);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_requests_total', {
        operation: 'get_secret',
        status: '200',
      }),
    ).toBe(1);
    expect(
      await metricValue(registry, 'secrets_manager_operator_sm_vault_logins_total', {
        result: 'success',
      }),
    ).toBe(1);
  });
});
