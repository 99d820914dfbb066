// What an ExternalSecret reads and how it lands in the Secret: every secret type, by ID or name,
// default or named group, property and kv paths, extract and find, the target's type, labels,
// annotations and owner, and the rules for iam_credentials. Real API server, emulator behind a
// SecretStore.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import {
  createExternalSecret,
  decoded,
  getExternalSecret,
  getSecret,
  patchExternalSecret,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-sync'));
});

afterAll(() => stopFixture(operator, sm));

function spec(rest: Record<string, unknown>): Record<string, unknown> {
  return { storeRef: sm.storeRef, refreshInterval: '1h', ...rest };
}

describe('data', () => {
  it('reads one field of every secret type, by ID or name, from the default or a named group', async () => {
    await createExternalSecret(
      namespace,
      'every-type',
      spec({
        data: [
          { secretKey: 'db-url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } },
          {
            secretKey: 'team-token',
            remoteRef: { type: 'arbitrary', id: SEED.teamAToken.id, group: SEED.teamAGroup },
          },
          {
            secretKey: 'log-level',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'log_level' },
          },
          {
            secretKey: 'db-host',
            remoteRef: { type: 'kv', id: SEED.appConfig.id, property: 'database.host' },
          },
          {
            secretKey: 'replica-1',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'database.replicas.1' },
          },
          {
            secretKey: 'features',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'features' },
          },
          {
            secretKey: 'smtp-password',
            remoteRef: { type: 'username_password', name: SEED.smtp.name, property: 'password' },
          },
          {
            secretKey: 'tls.crt',
            remoteRef: { type: 'imported_cert', name: SEED.appTls.name, property: 'certificate' },
          },
          {
            secretKey: 'www.crt',
            remoteRef: { type: 'public_cert', id: SEED.publicCert.id, property: 'certificate' },
          },
          {
            secretKey: 'orders.key',
            remoteRef: {
              type: 'private_cert',
              name: SEED.privateCert.name,
              group: SEED.teamAGroup,
              property: 'private_key',
            },
          },
          {
            secretKey: 'en-apikey',
            remoteRef: {
              type: 'service_credentials',
              name: SEED.serviceCredentials.name,
              property: 'apikey',
            },
          },
          {
            secretKey: 'reporting-apikey',
            remoteRef: {
              type: 'iam_credentials',
              name: SEED.iamReuse.name,
              group: SEED.teamAGroup,
              property: 'api_key',
            },
          },
          { secretKey: 'smtp-json', remoteRef: { type: 'username_password', id: SEED.smtp.id } },
        ],
      }),
    );
    const secret = await waitForSecret(namespace, 'every-type');
    const data = decoded(secret);
    expect(data['db-url']).toBe(SEED.databaseUrlValue);
    expect(data['team-token']).toBe('sample-team-a-token-value');
    expect(data['log-level']).toBe('info');
    expect(data['db-host']).toBe('db.example.internal');
    expect(data['replica-1']).toBe('db-2.example.internal');
    expect(JSON.parse(data.features ?? '')).toEqual({ checkout: true, recommendations: false });
    expect(data['smtp-password']).toBe(SEED.smtpPassword);
    expect(data['tls.crt']).toContain('-----BEGIN CERTIFICATE-----');
    expect(data['www.crt']).toContain('-----BEGIN CERTIFICATE-----');
    expect(data['orders.key']).toContain('PRIVATE KEY-----');
    expect(data['en-apikey']).toMatch(/\S{8,}/);
    expect(data['reporting-apikey']).toMatch(/\S{8,}/);
    expect(JSON.parse(data['smtp-json'] ?? '')).toEqual({
      username: 'mailer',
      password: SEED.smtpPassword,
    });
    const es = await waitForReason(namespace, 'every-type', 'Synced');
    expect(es.status).toMatchObject({
      secretName: 'every-type',
      observedGeneration: es.metadata.generation,
    });
    expect(es.status?.syncedDataHash).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(es.status?.refreshTime).toBeDefined();
    expect(Date.parse(es.status?.nextRefreshTime ?? '')).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(readyOf(es)?.message).toContain('13 keys');
  });

  it('writes the chosen type, labels and annotations, owned by the ExternalSecret', async () => {
    const es = await createExternalSecret(
      namespace,
      'tls',
      spec({
        target: {
          name: 'app-tls-secret',
          type: 'kubernetes.io/tls',
          labels: { app: 'web' },
          annotations: { team: 'payments' },
        },
        data: [
          {
            secretKey: 'tls.crt',
            remoteRef: { type: 'imported_cert', name: SEED.appTls.name, property: 'certificate' },
          },
          {
            secretKey: 'tls.key',
            remoteRef: { type: 'imported_cert', name: SEED.appTls.name, property: 'private_key' },
          },
        ],
      }),
    );
    const secret = await waitForSecret(namespace, 'app-tls-secret');
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(secret.metadata?.labels).toMatchObject({
      app: 'web',
      'secrets-manager.dev/managed-by': 'secrets-manager-operator',
    });
    expect(secret.metadata?.annotations).toMatchObject({ team: 'payments' });
    expect(secret.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'ExternalSecret',
        name: 'tls',
        uid: es.metadata.uid,
        controller: true,
      }),
    ]);
    expect(secret.metadata?.managedFields?.map((f) => f.manager)).toContain(
      'secrets-manager-operator',
    );
  });
});

describe('dataFrom', () => {
  it('extracts every field of a secret and finds secrets by type, labels and name', async () => {
    await createExternalSecret(
      namespace,
      'from',
      spec({
        dataFrom: [
          { extract: { type: 'kv', name: SEED.appConfig.name, keyPrefix: 'config_' } },
          { extract: { type: 'username_password', name: SEED.smtp.name } },
          { find: { type: 'arbitrary', labels: ['dev'], keyPrefix: 'dev_' } },
          { find: { name: { regexp: '^team-a-' }, group: SEED.teamAGroup } },
        ],
        data: [{ secretKey: 'username', remoteRef: { type: 'arbitrary', name: 'database-url' } }],
      }),
    );
    const secret = await waitForSecret(namespace, 'from');
    const data = decoded(secret);
    expect(data.config_log_level).toBe('info');
    expect(JSON.parse(data.config_database ?? '')).toMatchObject({ host: 'db.example.internal' });
    // data wins over dataFrom on the same key.
    expect(data.username).toBe(SEED.databaseUrlValue);
    expect(data.password).toBe(SEED.smtpPassword);
    expect(data['dev_database-url']).toBe(SEED.databaseUrlValue);
    expect(data['team-a-token']).toBe('sample-team-a-token-value');
    expect(JSON.parse(data['team-a-settings'] ?? '')).toMatchObject({ region: 'us-south' });
    expect(Object.keys(data).some((k) => k.includes('reporting-reader'))).toBe(false);
  });
});

describe('never a partial Secret', () => {
  it('writes nothing when one item fails, and keeps the last good data', async () => {
    await createExternalSecret(
      namespace,
      'partial',
      spec({
        data: [
          { secretKey: 'a', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } },
          {
            secretKey: 'b',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'log_level' },
          },
        ],
      }),
    );
    await waitForSecret(namespace, 'partial', (d) => d.b === 'info');
    const before = await getSecret(namespace, 'partial');
    await patchExternalSecret(namespace, 'partial', {
      spec: {
        data: [
          { secretKey: 'a', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } },
          {
            secretKey: 'b',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'log_level' },
          },
          {
            secretKey: 'c',
            remoteRef: { type: 'kv', name: SEED.appConfig.name, property: 'no.such.path' },
          },
        ],
      },
    });
    const es = await waitForReason(namespace, 'partial', 'SyncError');
    expect(readyOf(es)?.message).toContain('has no field "no.such.path"');
    const after = await getSecret(namespace, 'partial');
    expect(after?.metadata?.resourceVersion).toBe(before?.metadata?.resourceVersion);
    expect(Object.keys(decoded(after))).toEqual(['a', 'b']);
  });
});

describe('iam_credentials', () => {
  it('serves a secret that reuses its API key, and the same key on every refresh', async () => {
    await createExternalSecret(
      namespace,
      'iam-reuse',
      spec({
        refreshInterval: '5s',
        dataFrom: [
          { extract: { type: 'iam_credentials', id: SEED.iamReuse.id, group: SEED.teamAGroup } },
        ],
      }),
    );
    const secret = await waitForSecret(namespace, 'iam-reuse');
    const data = decoded(secret);
    expect(Object.keys(data).sort()).toEqual(['api_key', 'service_id']);
    expect(sm.emulator.isApiKeyValid(data.api_key ?? '')).toBe(true);
    const minted = sm.emulator.counters().credentialsMinted;
    const first = await waitForReason(namespace, 'iam-reuse', 'Synced');
    // Let at least one refresh happen: refreshTime moves, the key does not.
    await eventually(
      'a refresh',
      async () => {
        const es = await getExternalSecret(namespace, 'iam-reuse');
        return es?.status?.refreshTime !== first.status?.refreshTime ? es : undefined;
      },
      20_000,
    );
    expect(decoded(await getSecret(namespace, 'iam-reuse')).api_key).toBe(data.api_key);
    expect(sm.emulator.counters().credentialsMinted).toBe(minted);
  });

  it('refuses one that mints a key per read: nothing written, UseIAMCredentialLease, no retry', async () => {
    const before = sm.emulator.counters().credentialsMinted;
    await createExternalSecret(
      namespace,
      'iam-mint',
      spec({
        refreshInterval: '5s',
        data: [
          {
            secretKey: 'apikey',
            remoteRef: { type: 'iam_credentials', name: SEED.iamNoReuse.name, property: 'api_key' },
          },
          {
            secretKey: 'again',
            remoteRef: { type: 'iam_credentials', id: SEED.iamNoReuse.id, property: 'api_key' },
          },
        ],
      }),
    );
    const es = await waitForReason(namespace, 'iam-mint', 'UseIAMCredentialLease');
    expect(readyOf(es)?.message).toContain('IAMCredentialLease');
    // Decided from the secret's metadata: the refusal minted no key.
    expect(sm.emulator.counters().credentialsMinted).toBe(before);
    expect(readyOf(es)?.status).toBe('False');
    expect(await getSecret(namespace, 'iam-mint')).toBeUndefined();
    // Neither force-sync nor the refresh time reads it again for this generation.
    const patched = await patchExternalSecret(namespace, 'iam-mint', {
      metadata: { annotations: { 'secrets-manager.dev/force-sync': '1' } },
    });
    await eventually('the operator to look at the annotated resource', async () =>
      operator
        .logLines()
        .find(
          (l) =>
            l.resource === `${namespace}/iam-mint` &&
            l.resourceVersion === patched.metadata.resourceVersion &&
            l.due === 'nothing',
        ),
    );
    // Two references (by name and by ID) to one secret, a forced sync: still no key minted.
    expect(sm.emulator.counters().credentialsMinted - before).toBe(0);
    // And no busy loop around the refusal: a handful of reconciles, not hundreds.
    const reconciles = operator
      .logLines()
      .filter((l) => l.resource === `${namespace}/iam-mint` && l.msg === 'reconciling');
    expect(reconciles.length).toBeLessThan(10);
  });
});

describe('spec problems', () => {
  it('reports a version the secret does not have as InvalidSpec, not as a deleted secret', async () => {
    await createExternalSecret(
      namespace,
      'old-version',
      spec({
        data: [
          {
            secretKey: 'a',
            remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name, version: 'previous' },
          },
        ],
      }),
    );
    const es = await waitForReason(namespace, 'old-version', 'InvalidSpec');
    expect(readyOf(es)?.message).toContain('version previous does not exist (the secret does)');
  });
});
