// Keyless stores on the real API server: the operator requests a service-account token
// (TokenRequest), the emulator's IAM verifies it against this API server's service-account
// issuer keys (its JWKS) and the trusted profile's links, and the ExternalSecret syncs with no API
// key Secret anywhere in the cluster's test namespaces.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenidApi } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION } from '../../../src/api/group.ts';
import { HASH_KEY_SECRET } from '../../../src/controllers/shared/hashkey.ts';
import { type Emulator, startEmulator } from '../../../src/emulator/index.ts';
import { createNamespace, eventually } from '../support/cluster.ts';
import { createStore, loadSampleSeed, storeReadyCondition } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  core,
  createExternalSecret,
  decoded,
  getSecret,
  kc,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

const EXAMPLE = fileURLToPath(
  new URL('../../../examples/store-secretstore-trusted-profile.yaml', import.meta.url),
);

interface StoreSpec {
  secretsManager: {
    instanceId?: string;
    region?: string;
    auth: { trustedProfile: Record<string, unknown> };
  };
}

const PROFILE_ID = 'Profile-6f1c2d3e-4a5b-4c6d-8e7f-001122334455';
const ACCOUNT = '0123456789abcdef0123456789abcdef';

let namespace: string;
let other: string;
let sm: Emulator;
let operator: RunningOperator;

beforeAll(async () => {
  namespace = await createNamespace('keyless');
  other = await createNamespace('keyless-other');
  for (const [ns, name] of [
    [namespace, 'reader'],
    [namespace, 'stranger'],
    [other, 'reader'],
  ] as const) {
    await core.createNamespacedServiceAccount({ namespace: ns, body: { metadata: { name } } });
  }
  // IAM trusts tokens of this cluster: it checks them against the API server's own JWKS.
  const keyset: unknown = await kc.makeApiClient(OpenidApi).getServiceAccountIssuerOpenIDKeyset();
  const jwks = typeof keyset === 'string' ? keyset : JSON.stringify(keyset);
  sm = await startEmulator({
    computeResourceTokens: { publicKeys: jwks, audience: 'iam' },
    seed: {
      ...(await loadSampleSeed()),
      trustedProfiles: [
        {
          id: PROFILE_ID,
          name: 'keyless-reader',
          accountId: ACCOUNT,
          role: 'SecretsReader',
          // The other namespace's reader is trusted too: only the operator keeps a SecretStore
          // from borrowing it.
          links: [
            { namespace, serviceAccount: 'reader' },
            { namespace: other, serviceAccount: 'reader' },
          ],
        },
      ],
    },
  });
  operator = await startOperator({
    namespaces: [namespace, other],
    deps: { storeRecheckMs: 2_000 },
  });
});

afterAll(async () => {
  await operator?.stop();
  await sm?.stop();
});

async function keylessStore(name: string, trustedProfile: Record<string, unknown>): Promise<void> {
  await createStore(kc, 'SecretStore', namespace, {
    apiVersion: API_VERSION,
    kind: 'SecretStore',
    metadata: { name, namespace },
    spec: { secretsManager: { url: sm.url, iamUrl: sm.url, auth: { trustedProfile } } },
  });
}

async function readyOf(name: string, reason: string) {
  return eventually(`store ${name} to report ${reason}`, async () => {
    const ready = await storeReadyCondition(kc, 'SecretStore', namespace, name);
    return ready?.reason === reason ? ready : undefined;
  });
}

describe('a SecretStore with an IAM trusted profile', () => {
  it('syncs an ExternalSecret with no API key Secret in the cluster', async () => {
    await keylessStore('keyless', {
      profileName: 'keyless-reader',
      accountId: ACCOUNT,
      serviceAccountRef: { name: 'reader' },
    });
    const ready = await readyOf('keyless', 'Valid');
    expect(ready.status).toBe('True');
    expect(ready.message).toContain('trusted profile keyless-reader');
    await createExternalSecret(namespace, 'db', {
      storeRef: { kind: 'SecretStore', name: 'keyless' },
      refreshInterval: '0',
      data: [{ secretKey: 'url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }],
    });
    const secret = await waitForSecret(namespace, 'db');
    expect(decoded(secret).url).toBe(SEED.databaseUrlValue);
    await waitForReason(namespace, 'db', 'Synced');
    // The only Secrets are the ones the operator wrote (the target and its hash key): no API key.
    const secrets = await core.listNamespacedSecret({ namespace });
    expect(secrets.items.map((s) => s.metadata?.name).sort()).toEqual(['db', HASH_KEY_SECRET]);
    expect((await core.listNamespacedSecret({ namespace: other })).items).toEqual([]);
    expect(sm.counters().iamTokenExchangeFailures).toBe(0);
  });

  it('refuses a service account of another namespace, and asks IAM nothing for it', async () => {
    const before = sm.counters().iamTokenExchanges;
    await keylessStore('borrowed', {
      profileId: PROFILE_ID,
      serviceAccountRef: { name: 'reader', namespace: other },
    });
    const ready = await readyOf('borrowed', 'InvalidSpec');
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(`names namespace ${other}`);
    expect(ready.message).toContain('may only use a service account of its own namespace');
    await createExternalSecret(namespace, 'borrowed', {
      storeRef: { kind: 'SecretStore', name: 'borrowed' },
      refreshInterval: '0',
      data: [{ secretKey: 'url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }],
    });
    await waitForReason(namespace, 'borrowed', 'StoreNotReady');
    expect(await getSecret(namespace, 'borrowed')).toBeUndefined();
    expect(sm.counters().iamTokenExchanges).toBe(before);
  });

  it("reports a service account the profile does not trust as AuthFailed with IAM's words", async () => {
    await keylessStore('stranger', {
      profileId: PROFILE_ID,
      serviceAccountRef: { name: 'stranger' },
    });
    const ready = await readyOf('stranger', 'AuthFailed');
    expect(ready.status).toBe('False');
    expect(ready.message).toContain('BXNIM0446E');
    expect(ready.message).toContain(`service account ${namespace}/stranger`);
    expect(ready.message).toContain('is not trusted by trusted profile');
    // A service-account token is a JWT: none of it reaches the status.
    expect(ready.message).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
  });

  it('reports a token for the wrong audience as AuthFailed', async () => {
    await keylessStore('wrong-audience', {
      profileId: PROFILE_ID,
      serviceAccountRef: { name: 'reader', audiences: ['not-iam'] },
    });
    const ready = await readyOf('wrong-audience', 'AuthFailed');
    expect(ready.message).toContain("the token's audience is not iam");
  });

  it('works as examples/store-secretstore-trusted-profile.yaml is written (but the instance)', async () => {
    const docs = parseAllDocuments(readFileSync(EXAMPLE, 'utf8')).map(
      (d) => d.toJS() as { kind: string; metadata: { name: string }; spec?: StoreSpec },
    );
    const account = docs.find((d) => d.kind === 'ServiceAccount');
    const store = docs.find((d) => d.kind === 'SecretStore');
    if (!account || !store?.spec) throw new Error('the example lost its ServiceAccount or store');
    const auth = store.spec.secretsManager.auth.trustedProfile;
    sm.addTrustedProfile({
      name: String(auth.profileName),
      accountId: String(auth.accountId),
      role: 'SecretsReader',
      links: [{ namespace, serviceAccount: account.metadata.name }],
    });
    await core.createNamespacedServiceAccount({
      namespace,
      body: { metadata: { name: account.metadata.name } },
    });
    const { instanceId: _i, region: _r, ...rest } = store.spec.secretsManager;
    await createStore(kc, 'SecretStore', namespace, {
      ...store,
      metadata: { name: store.metadata.name, namespace },
      spec: { ...store.spec, secretsManager: { ...rest, url: sm.url, iamUrl: sm.url } },
    });
    const ready = await readyOf(store.metadata.name, 'Valid');
    expect(ready.message).toContain(`trusted profile ${auth.profileName}`);
  });

  it('reports a service account that does not exist as CredentialsMissing', async () => {
    await keylessStore('ghost', { profileId: PROFILE_ID, serviceAccountRef: { name: 'ghost' } });
    const ready = await readyOf('ghost', 'CredentialsMissing');
    expect(ready.message).toContain(`service account ${namespace}/ghost does not exist`);
  });
});
