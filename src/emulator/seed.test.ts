import { X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { type Emulator, loadSeedFile, parseSeed, SECRET_TYPES } from './index.ts';
import { MANAGER_KEY, startTestEmulator, vaultCall, vaultLogin } from './testing.ts';

const SAMPLE = fileURLToPath(new URL('./sample-seed.yaml', import.meta.url));

let em: Emulator | undefined;
afterEach(async () => {
  await em?.stop();
  em = undefined;
});

describe('seed files', () => {
  it('the sample seed has a default and a named group and every secret type', async () => {
    const seed = await loadSeedFile(SAMPLE);
    expect(seed.groups.map((g) => g.name)).toEqual(['team-a']);
    expect(new Set(seed.secrets.map((s) => s.type))).toEqual(new Set(SECRET_TYPES));
    const iam = seed.secrets.filter((s) => s.type === 'iam_credentials');
    expect(iam.map((s) => s.reuse_api_key).sort()).toEqual([false, true]);
    expect(seed.secrets.some((s) => s.group === undefined)).toBe(true);
    expect(seed.secrets.some((s) => s.group === 'team-a')).toBe(true);
  });

  it('serves the sample seed: nested kv payload, real certificates, keys limited to a group', async () => {
    em = await startTestEmulator({ seed: await loadSeedFile(SAMPLE) });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    const kv = await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/kv/secrets/app-config');
    expect(kv.json.data.secret_data.payload.features).toEqual({
      checkout: true,
      recommendations: false,
    });
    const tls = await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/imported_cert/secrets/app-tls');
    const cert = new X509Certificate(tls.json.data.secret_data.certificate);
    expect(cert.verify(new X509Certificate(tls.json.data.secret_data.intermediate).publicKey)).toBe(
      true,
    );
    expect(tls.json.data.common_name).toBe('app.example.internal');
    const pub = await vaultCall(
      em.url,
      vt,
      'GET',
      '/v1/ibmcloud/public_cert/secrets/www-example-com',
    );
    expect(new X509Certificate(pub.json.data.secret_data.certificate).subjectAltName).toContain(
      'DNS:example.com',
    );
    const teamKey = await vaultLogin(em.url, 'sample-team-a-secrets-reader-key');
    const own = await vaultCall(
      em.url,
      teamKey,
      'GET',
      '/v1/ibmcloud/iam_credentials/creds/groups/team-a/reporting-reader',
    );
    expect(own.status).toBe(200);
    expect(
      (await vaultCall(em.url, teamKey, 'GET', '/v1/ibmcloud/kv/secrets/app-config')).status,
    ).toBe(403);
  });

  it('reads JSON as well as YAML, and keeps fixed IDs', async () => {
    const seed = parseSeed(
      JSON.stringify({
        secrets: [{ type: 'arbitrary', id: 'fixed-id-1', name: 'from-json', payload: 'v' }],
      }),
    );
    em = await startTestEmulator({ seed });
    const vt = await vaultLogin(em.url, MANAGER_KEY);
    const res = await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/arbitrary/secrets/fixed-id-1');
    expect(res.json.data).toMatchObject({ name: 'from-json', secret_data: { payload: 'v' } });
  });

  it('names the offending field of an invalid seed', async () => {
    expect(() => parseSeed('secrets:\n  - type: vault\n    name: x\n', 'bad.yaml')).toThrow(
      /bad\.yaml: secrets\.0\.type/,
    );
    expect(() => parseSeed('groups: [1]')).toThrow(/groups\.0/);
    await expect(
      startTestEmulator({ seed: { secrets: [{ type: 'kv', name: 'no-payload' }] } }),
    ).rejects.toThrow(/no-payload.*payload/);
    await expect(
      startTestEmulator({
        seed: { secrets: [{ type: 'kv', name: 'k1', group: 'nope', payload: {} }] },
      }),
    ).rejects.toThrow(/unknown group "nope"/);
  });
});
