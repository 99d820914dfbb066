// examples/ work as written: every ExternalSecret example (one per secret type) synced against
// the emulator through the ClusterSecretStore "default" (which is also what an omitted storeRef
// means), the ClusterExternalSecret delivering into the namespace labelled team=..., and the
// consuming Pod and Deployment accepted by the API server.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CustomObjectsApi, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { createNamespace } from '../support/cluster.ts';
import {
  createStore,
  deleteStore,
  startTestEmulator,
  TEST_STORE_LABEL,
  type TestEmulator,
} from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { apps, core, decoded, kc, readyOf, waitForReason, waitForSecret } from './helpers.ts';

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url));
const custom = kc.makeApiClient(CustomObjectsApi);

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

function exampleDocs(): Array<{ file: string; doc: Doc }> {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('lease-'))
    .sort()
    .flatMap((file) =>
      parseAllDocuments(readFileSync(`${dir}${file}`, 'utf8')).map((d) => ({
        file,
        doc: d.toJS() as Doc,
      })),
    );
}

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
const docs = exampleDocs();

beforeAll(async () => {
  // Labelled as a team namespace, so the ClusterExternalSecret example selects it.
  namespace = await createNamespace('es-examples', { team: 'examples' });
  sm = await startTestEmulator({ namespace, storeName: 'unused' });
  // "default" is cluster-wide: this is the only test file that creates it.
  await createStore(kc, 'ClusterSecretStore', namespace, {
    apiVersion: API_VERSION,
    kind: 'ClusterSecretStore',
    metadata: { name: 'default', labels: { [TEST_STORE_LABEL]: namespace } },
    spec: {
      secretsManager: {
        url: sm.url,
        iamUrl: sm.url,
        auth: { apiKey: { secretRef: { name: sm.secretName, key: 'apikey', namespace } } },
      },
      conditions: [{ namespaces: [namespace] }],
    },
  });
  operator = await startOperator({ namespaces: [namespace] });
  for (const { doc } of docs) {
    if (doc.kind === 'SecretStore' || doc.kind === 'ClusterSecretStore') continue;
    const body = { ...doc, metadata: { ...doc.metadata, namespace } };
    if (doc.kind === 'Secret') await core.createNamespacedSecret({ namespace, body });
    else if (doc.kind === 'ServiceAccount') {
      await core.createNamespacedServiceAccount({ namespace, body });
    } else if (doc.kind === 'Pod')
      await core.createNamespacedPod({ namespace, body: body as V1Pod });
    else if (doc.kind === 'Deployment') {
      await apps.createNamespacedDeployment({ namespace, body: body as V1Deployment });
    } else if (doc.kind === 'ExternalSecret') {
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ExternalSecret,
        namespace,
        body,
      });
    } else if (doc.kind === 'ClusterExternalSecret') {
      // Cluster-scoped: labelled so that only this test's operator acts on it.
      const labels = { [TEST_STORE_LABEL]: namespace };
      await custom.createClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ClusterExternalSecret,
        body: { ...doc, metadata: { ...doc.metadata, labels } },
      });
    } else throw new Error(`examples: no test for kind ${doc.kind}`);
  }
});

afterAll(async () => {
  for (const { doc } of docs.filter((d) => d.doc.kind === 'ClusterExternalSecret')) {
    await custom
      .deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ClusterExternalSecret,
        name: doc.metadata.name,
      })
      .catch(() => {});
  }
  await operator?.stop();
  await deleteStore(kc, 'ClusterSecretStore', namespace, 'default').catch(() => {});
  await sm?.stop();
});

describe('examples/', () => {
  it('has an ExternalSecret for every secret type of Secrets Manager', () => {
    const types = new Set(
      JSON.stringify(docs.filter((d) => d.doc.kind === 'ExternalSecret').map((d) => d.doc.spec))
        .match(/"type":"[a-z_]+"/g)
        ?.map((m) => m.slice(8, -1)),
    );
    for (const type of [
      'arbitrary',
      'kv',
      'username_password',
      'imported_cert',
      'public_cert',
      'private_cert',
      'service_credentials',
      'iam_credentials',
    ]) {
      expect(types, type).toContain(type);
    }
  });

  it.each(
    docs.filter((d) => d.doc.kind === 'ExternalSecret').map((d) => [d.file, d.doc.metadata.name]),
  )('%s syncs', async (_file, name) => {
    const es = await waitForReason(namespace, name, 'Synced');
    const target = es.status?.secretName ?? name;
    const secret = await waitForSecret(namespace, target);
    expect(Object.keys(decoded(secret)).length).toBeGreaterThan(0);
    expect(readyOf(es)?.message).toContain('ClusterSecretStore default');
  });

  it.each(
    docs
      .filter((d) => d.doc.kind === 'ClusterExternalSecret')
      .map((d) => [d.file, d.doc.metadata.name]),
  )('%s delivers its ExternalSecret into the team namespace', async (_file, name) => {
    const es = await waitForReason(namespace, name, 'Synced');
    const secret = await waitForSecret(namespace, es.status?.secretName ?? name);
    expect(decoded(secret)['ca.crt']).toContain('-----BEGIN CERTIFICATE-----');
  });

  it('keeps the keys of the merged Secret that are not ours', async () => {
    const secret = await waitForSecret(namespace, 'dev-settings', (d) => 'dev_database-url' in d);
    expect(decoded(secret).owner).toBe('platform-team');
  });
});
