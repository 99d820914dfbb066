// Namespace isolation: a ClusterSecretStore serves only the namespaces its conditions admit
// (by name or by label, following label changes) and a SecretStore only its own namespace. A
// resource whose store is not ready waits and syncs once the store becomes ready. (An omitted
// storeRef meaning the ClusterSecretStore "default" is proven by examples.test.ts.)
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { createNamespace } from '../support/cluster.ts';
import { createStore, startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  core,
  createExternalSecret,
  decoded,
  getSecret,
  kc,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let home: string;
let admitted: string;
let other: string;
let labelled: string;
let cluster: TestEmulator;
let operator: RunningOperator;

const data = [{ secretKey: 'url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }];

beforeAll(async () => {
  home = await createNamespace('es-iso');
  admitted = await createNamespace('es-iso-yes');
  other = await createNamespace('es-iso-no');
  labelled = await createNamespace('es-iso-label');
  cluster = await startTestEmulator({
    namespace: home,
    storeKind: 'ClusterSecretStore',
    conditions: [
      { namespaces: [admitted] },
      { namespaceSelector: { matchLabels: { 'secrets-manager.dev/allowed': 'true' } } },
    ],
  });
  // Stores are rechecked every 2 s here (60 s by default), so a key Secret created later counts.
  operator = await startOperator({
    namespaces: [home, admitted, other, labelled],
    deps: { storeRecheckMs: 2_000 },
  });
  await cluster.waitReady();
});

afterAll(async () => {
  await operator?.stop();
  await cluster?.stop();
});

describe('ClusterSecretStore conditions', () => {
  it('serve an admitted namespace', async () => {
    await createExternalSecret(admitted, 'ok', { storeRef: cluster.storeRef, data });
    const secret = await waitForSecret(admitted, 'ok');
    expect(decoded(secret).url).toBe(SEED.databaseUrlValue);
  });

  it('give another namespace Forbidden and never the data', async () => {
    await createExternalSecret(other, 'nope', { storeRef: cluster.storeRef, data });
    const es = await waitForReason(other, 'nope', 'Forbidden');
    expect(readyOf(es)?.message).toContain(`does not admit namespace ${other}`);
    expect(await getSecret(other, 'nope')).toBeUndefined();
  });

  it('admit a namespace once it gets the selected label', async () => {
    await createExternalSecret(labelled, 'later', { storeRef: cluster.storeRef, data });
    await waitForReason(labelled, 'later', 'Forbidden');
    await core.patchNamespace(
      { name: labelled, body: { metadata: { labels: { 'secrets-manager.dev/allowed': 'true' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    await waitForSecret(labelled, 'later');
    await waitForReason(labelled, 'later', 'Synced');
  });
});

describe('SecretStore', () => {
  it('is usable only from its own namespace', async () => {
    const local = await startTestEmulator({ namespace: home, storeName: 'home-store' });
    try {
      await local.waitReady();
      await createExternalSecret(home, 'mine', { storeRef: local.storeRef, data });
      await waitForSecret(home, 'mine');
      // The same reference from another namespace means a SecretStore there, which is absent.
      await createExternalSecret(admitted, 'theirs', { storeRef: local.storeRef, data });
      const es = await waitForReason(admitted, 'theirs', 'StoreNotReady');
      expect(readyOf(es)?.message).toContain(`SecretStore ${admitted}/home-store does not exist`);
      expect(await getSecret(admitted, 'theirs')).toBeUndefined();
    } finally {
      await local.stop();
    }
  });

  it('waits while its store is not ready and syncs when it becomes ready', async () => {
    const late = await startTestEmulator({ namespace: other, storeName: 'late' });
    try {
      // Break the store first: a key Secret that does not exist yet.
      await createStore(kc, 'SecretStore', other, {
        apiVersion: API_VERSION,
        kind: 'SecretStore',
        metadata: { name: 'late-key', namespace: other },
        spec: {
          secretsManager: {
            url: late.url,
            iamUrl: late.url,
            auth: { apiKey: { secretRef: { name: 'late-key', key: 'apikey' } } },
          },
        },
      });
      await createExternalSecret(other, 'waiting', {
        storeRef: { kind: 'SecretStore', name: 'late-key' },
        data,
      });
      const es = await waitForReason(other, 'waiting', 'StoreNotReady');
      expect(readyOf(es)?.message).toContain('CredentialsMissing');
      await core.createNamespacedSecret({
        namespace: other,
        body: { metadata: { name: 'late-key' }, stringData: { apikey: late.apiKey } },
      });
      await waitForSecret(other, 'waiting');
      await waitForReason(other, 'waiting', 'Synced');
    } finally {
      await late.stop();
    }
  });
});
