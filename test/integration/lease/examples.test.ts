// examples/lease-*.yaml work as written against the emulator's sample data: each lease becomes
// Ready with a key IAM accepts, and the Deployments are accepted by the API server. The only
// change is the store: the examples use the ClusterSecretStore "default", which another test
// file owns, so here they point at this file's SecretStore.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { parseIAMCredentialLease } from '../../../src/api/index.ts';
import { eventually } from '../support/cluster.ts';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import { apps, core, custom } from './harness.ts';

const dir = fileURLToPath(new URL('../../../examples/', import.meta.url));

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec: Record<string, unknown>;
}

const docs = readdirSync(dir)
  .filter((f) => f.startsWith('lease-') && f.endsWith('.yaml'))
  .sort()
  .flatMap((file) =>
    parseAllDocuments(readFileSync(`${dir}${file}`, 'utf8')).map((d) => ({
      file,
      doc: d.toJS() as Doc,
    })),
  );
const leases = docs.filter((d) => d.doc.kind === 'IAMCredentialLease');

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('lease-examples'));
});

afterAll(() => stopFixture(operator, sm));

describe('examples/lease-*.yaml', () => {
  it('has lease examples', () => {
    expect(leases.length).toBeGreaterThanOrEqual(2);
    for (const { file, doc } of leases) {
      expect(parseIAMCredentialLease(doc), file).toMatchObject({ ok: true });
      expect(doc.spec.storeRef, `${file} relies on the default store`).toBeUndefined();
    }
  });

  it.each(docs.map((d) => [`${d.file} ${d.doc.kind}/${d.doc.metadata.name}`, d.doc] as const))(
    '%s is accepted and works',
    async (_label, doc) => {
      if (doc.kind === 'Deployment') {
        await apps.createNamespacedDeployment({ namespace, body: doc as never });
        return;
      }
      await custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.IAMCredentialLease,
        namespace,
        body: { ...doc, spec: { ...doc.spec, storeRef: sm.storeRef } },
      });
      const target = doc.spec.target as { name: string; keys: { apiKey: string } };
      const key = await eventually(`Secret ${target.name}`, async () => {
        try {
          const secret = await core.readNamespacedSecret({ name: target.name, namespace });
          const value = secret.data?.[target.keys.apiKey];
          return value ? Buffer.from(value, 'base64').toString() : undefined;
        } catch {
          return undefined;
        }
      });
      expect(sm.emulator.isApiKeyValid(key)).toBe(true);
    },
  );
});
