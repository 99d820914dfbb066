// The generated CRDs against a real API server: they install, the examples of the brief are
// accepted, the API server's defaulting agrees with zod's, status round-trips through the
// status subresource, and invalid resources are refused with the same messages the parse
// helpers give (so `kubectl apply` and an InvalidSpec condition say the same thing).
import {
  ApiException,
  CustomObjectsApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as examples from '../../src/api/examples.ts';
import { GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import {
  type ParseResult,
  parseClusterExternalSecret,
  parseClusterSecretStore,
  parseExternalSecret,
  parseIAMCredentialLease,
  parseSecretStore,
} from '../../src/api/parse.ts';
import { createNamespace, kubeConfig } from './support/cluster.ts';
import { installCrds } from './support/crds.ts';

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
let namespace: string;
const suffix = Math.random().toString(36).slice(2, 8);
const clusterStoreName = `crds-test-${suffix}`;
const clusterExternalSecretName = `crds-test-${suffix}`;

// Cases edit valid examples into invalid ones, which no precise type allows.
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are edited freely
type Draft = any;

type Example = { kind: keyof typeof PLURALS; metadata: { name: string; namespace?: string } };
type Parser = (input: unknown) => ParseResult<unknown>;
const parsers: Record<keyof typeof PLURALS, Parser> = {
  SecretStore: parseSecretStore,
  ClusterSecretStore: parseClusterSecretStore,
  ExternalSecret: parseExternalSecret,
  IAMCredentialLease: parseIAMCredentialLease,
  ClusterExternalSecret: parseClusterExternalSecret,
};

/** The example, moved into this test's namespace (or given a unique cluster-wide name). */
function place<T extends Example>(example: T, change?: (copy: Draft) => void): T {
  const copy = structuredClone(example);
  if (copy.kind === 'ClusterSecretStore') {
    copy.metadata.name =
      copy.metadata.name === 'keyless' ? `${clusterStoreName}-keyless` : clusterStoreName;
  } else if (copy.kind === 'ClusterExternalSecret') copy.metadata.name = clusterExternalSecretName;
  else copy.metadata.namespace = namespace;
  change?.(copy);
  return copy;
}

function create(body: Example): Promise<Draft> {
  const plural = PLURALS[body.kind];
  if (body.kind === 'ClusterSecretStore' || body.kind === 'ClusterExternalSecret') {
    return custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural, body });
  }
  return custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural,
    body,
  });
}

/** The API server's refusal message for `body` (fails the test if it is accepted). */
async function refusal(body: Example): Promise<string> {
  try {
    await create(body);
  } catch (error) {
    if (!(error instanceof ApiException)) throw error;
    expect(error.code).toBe(422);
    const status = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return String(status.message);
  }
  throw new Error(`the API server accepted an invalid ${body.kind}`);
}

beforeAll(async () => {
  await installCrds(kc, 'crds-test');
  namespace = await createNamespace('crds');
});

afterAll(async () => {
  for (const name of [clusterStoreName, `${clusterStoreName}-keyless`]) {
    await custom
      .deleteClusterCustomObject({
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ClusterSecretStore,
        name,
      })
      .catch(() => undefined);
  }
  await custom
    .deleteClusterCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.ClusterExternalSecret,
      name: clusterExternalSecretName,
    })
    .catch(() => undefined);
});

describe('the generated CRDs on a real API server', () => {
  it.each([
    ['SecretStore', examples.exampleSecretStore],
    ['ClusterSecretStore', examples.exampleClusterSecretStore],
    ['keyless SecretStore', examples.trustedProfileSecretStore],
    [
      'keyless ClusterSecretStore',
      { ...examples.trustedProfileClusterSecretStore, metadata: { name: 'keyless' } },
    ],
    ['ExternalSecret', examples.exampleExternalSecret],
    ['minimal ExternalSecret', examples.minimalExternalSecret],
    ['scheduled ExternalSecret', examples.scheduledExternalSecret],
    ['IAMCredentialLease', examples.exampleIAMCredentialLease],
    ['minimal IAMCredentialLease', examples.minimalIAMCredentialLease],
    ['ClusterExternalSecret', examples.exampleClusterExternalSecret],
  ] as [string, Example][])(
    'accepts the %s example and defaults it as zod does',
    async (_name, example) => {
      const body = place(example);
      const stored = await create(body);
      const parse = parsers[body.kind];
      const fromServer = parse(stored);
      const fromZod = parse(body);
      if (!fromServer.ok) throw new Error(fromServer.message);
      if (!fromZod.ok) throw new Error(fromZod.message);
      // The API server's defaults (from the CRD) and zod's (from the same schema) agree.
      expect(stored.spec).toEqual((fromZod.value as { spec: unknown }).spec);
    },
  );

  it('keeps a lease status written through the status subresource, as zod reads it', async () => {
    const body = place(examples.minimalIAMCredentialLease, (lease) => {
      lease.metadata.name = 'with-status';
    });
    await create(body);
    const written = await custom.patchNamespacedCustomObjectStatus(
      {
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURALS.IAMCredentialLease,
        name: 'with-status',
        body: { status: examples.exampleIAMCredentialLeaseStatus },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(written.status).toEqual(examples.exampleIAMCredentialLeaseStatus);
    const parsed = parseIAMCredentialLease(written);
    if (!parsed.ok) throw new Error(parsed.message);
    expect(parsed.value.status).toEqual(examples.exampleIAMCredentialLeaseStatus);
  });

  it.each([
    [
      'an ExternalSecret with both id and name',
      place(examples.exampleExternalSecret, (es) => {
        es.metadata.name = 'both';
        es.spec.data[0].remoteRef.id = '582a8f65-9a2b-a072-4fc3-e69ff3462c23';
      }),
      'set exactly one of id or name',
    ],
    [
      'an IAMCredentialLease with both id and name',
      place(examples.minimalIAMCredentialLease, (lease) => {
        lease.metadata.name = 'both';
        lease.spec.credential.name = 'cos-writer';
      }),
      'set exactly one of id or name',
    ],
    [
      'an ExternalSecret with an interval and a schedule',
      place(examples.minimalExternalSecret, (es) => {
        es.metadata.name = 'both-refresh';
        es.spec.refreshInterval = '1h';
        es.spec.refreshSchedule = '@daily';
      }),
      'set at most one of refreshInterval or refreshSchedule',
    ],
    [
      'an ExternalSecret refreshing every second',
      place(examples.minimalExternalSecret, (es) => {
        es.metadata.name = 'fast';
        es.spec.refreshInterval = '1s';
      }),
      'must be 0 or at least 5s',
    ],
    [
      'a SecretStore with url and instanceId',
      place(examples.exampleSecretStore, (store) => {
        store.spec.secretsManager.url = 'https://example.com';
      }),
      'set exactly one of url or instanceId',
    ],
    [
      'a SecretStore with an API key and a trusted profile',
      place(examples.exampleSecretStore, (store) => {
        store.metadata.name = 'two-methods';
        store.spec.secretsManager.auth.trustedProfile =
          examples.trustedProfileSecretStore.spec.secretsManager.auth.trustedProfile;
      }),
      'set exactly one authentication method: apiKey or trustedProfile',
    ],
    [
      'a trusted profile named without its account',
      place(examples.trustedProfileSecretStore, (store) => {
        store.spec.secretsManager.auth.trustedProfile.accountId = undefined;
      }),
      'accountId is required with profileName and only allowed with it',
    ],
    [
      'a keyless ClusterSecretStore with a service account and a token file',
      place(
        { ...examples.trustedProfileClusterSecretStore, metadata: { name: 'keyless' } },
        (store) => {
          store.metadata.name = `${clusterStoreName}-two-tokens`;
          store.spec.secretsManager.auth.trustedProfile.serviceAccountRef = {
            name: 'operator',
            namespace: 'secrets-manager-system',
          };
        },
      ),
      'set exactly one of serviceAccountRef or tokenPath',
    ],
    [
      'a ClusterSecretStore condition without namespaces or selector',
      place(examples.exampleClusterSecretStore, (store) => {
        store.metadata.name = `${clusterStoreName}-bad`;
        store.spec.conditions = [{}];
      }),
      'set namespaces or namespaceSelector',
    ],
    [
      'a ClusterExternalSecret that selects no namespace',
      place(examples.exampleClusterExternalSecret, (ces) => {
        ces.metadata.name = `${clusterExternalSecretName}-none`;
        delete ces.spec.namespaces;
        delete ces.spec.namespaceSelectors;
      }),
      'set at least one entry in namespaceSelectors or namespaces',
    ],
    [
      'a ClusterExternalSecret whose ExternalSecret spec breaks an ExternalSecret rule',
      place(examples.exampleClusterExternalSecret, (ces) => {
        ces.metadata.name = `${clusterExternalSecretName}-es-rule`;
        ces.spec.externalSecretSpec.refreshSchedule = '@daily';
      }),
      'set at most one of refreshInterval or refreshSchedule',
    ],
  ] as [string, Example, string][])(
    'refuses %s with the rule message zod gives too',
    async (_case, body, message) => {
      expect(await refusal(body)).toContain(message);
      const parsed = parsers[body.kind](body);
      expect(parsed.ok ? '' : parsed.message).toContain(message);
    },
  );

  it('refuses a bad enum and names the allowed values', async () => {
    const body = place(examples.minimalExternalSecret, (es) => {
      es.metadata.name = 'bad-enum';
      es.spec.target = { creationPolicy: 'Sometimes' };
    });
    const message = await refusal(body);
    expect(message).toContain('spec.target.creationPolicy');
    expect(message).toContain('"Owner", "Merge", "Orphan"');
    const parsed = parseExternalSecret(body);
    expect(parsed.ok ? '' : parsed.message).toContain('spec.target.creationPolicy');
  });
});
