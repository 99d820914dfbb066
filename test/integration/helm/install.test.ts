// End to end on a real API server: `helm install` the chart, run the operator as its Deployment
// would (the rendered args and env, the chart's ServiceAccount token: see pod.ts), `kubectl apply`
// the examples and see Secrets synced and leases issued, check the RBAC is sufficient and no
// wider than needed, then `helm uninstall` and check that what remains is what the chart's
// README says remains.
//
// This file starts a control plane of its own from the same binaries: the chart creates
// cluster-scoped objects (CRDs from crds/, ClusterRoles, the ClusterSecretStore "default") and
// the operator it runs reads every ClusterSecretStore, so on the run's shared API server it would
// collide with the other files.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { ANNOTATIONS } from '../../../src/controllers/shared/constants.ts';
import { HASH_KEY_SECRET } from '../../../src/controllers/shared/hashkey.ts';
import { type Emulator, startEmulator } from '../../../src/emulator/index.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import {
  type ControlPlane,
  freePorts,
  startControlPlane,
} from '../../controlplane/controlplane.ts';
import { eventually } from '../support/cluster.ts';
import { loadSampleSeed } from '../support/emulator.ts';
import {
  CHART_DIR,
  ClusterTools,
  EXAMPLES_DIR,
  type Manifest,
  parseManifests,
  valuesFile,
} from './chart.ts';
import {
  type OperatorProcess,
  type PodCommand,
  podCommand,
  probe,
  serviceAccountKubeconfig,
  startOperatorProcess,
} from './pod.ts';
import {
  applyRotationResources,
  ROTATION,
  rotate,
  seedRotation,
  waitForFirstSync,
  waitForRotation,
} from './scenario.ts';

const RELEASE = 'smo';
const FULLNAME = 'smo-secrets-manager-operator';
/** The release namespace. */
const NS = 'smo-system';
/** The one namespace the operator watches. */
const APP = 'team-a';
/** A namespace it must not touch. */
const OTHER = 'team-b';
const SA = `system:serviceaccount:${NS}:${FULLNAME}`;
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}
interface CustomObject {
  metadata: { name: string; finalizers?: string[] };
  spec: Record<string, unknown>;
  status?: { conditions?: Condition[] };
}

let cp: ControlPlane;
let work: string;
let tools: ClusterTools;
let kc: KubeConfig;
let emulator: Emulator;
let apiKey: string;
let installOutput: string;
let rendered: Manifest[];
let command: PodCommand;
let saKubeconfig: string;
let operator: OperatorProcess | undefined;

const core = () => kc.makeApiClient(CoreV1Api);
const custom = () => kc.makeApiClient(CustomObjectsApi);

function ready(obj: CustomObject | undefined): Condition | undefined {
  return obj?.status?.conditions?.find((c) => c.type === 'Ready');
}

async function listCustom(kind: 'ExternalSecret' | 'IAMCredentialLease'): Promise<CustomObject[]> {
  const list = (await custom().listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS[kind],
    namespace: APP,
  })) as { items: CustomObject[] };
  return list.items;
}

async function secretData(namespace: string, name: string): Promise<Record<string, string>> {
  const secret = await core().readNamespacedSecret({ name, namespace });
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
}

async function exists(obj: Manifest): Promise<boolean> {
  try {
    await kc.makeApiClient(KubernetesObjectApi).read({
      apiVersion: obj.apiVersion,
      kind: obj.kind,
      metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace ?? '' },
    });
    return true;
  } catch (err) {
    if (isApiError(err, 404)) return false;
    throw err;
  }
}

/** The example files the test applies: all but the two stores, which point at real instances. */
function exampleFiles(): string[] {
  return readdirSync(EXAMPLES_DIR)
    .filter((f) => f.endsWith('.yaml') && !f.startsWith('store-'))
    .sort()
    .map((f) => join(EXAMPLES_DIR, f));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'smo-helm-e2e-'));
  // Not binDir(): with SMO_TEST_KUBECONFIG it may hold only kubectl and helm. build.sh answers
  // from its cache.
  cp = await startControlPlane();
  kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  tools = new ClusterTools({
    helm: join(cp.binDir, 'helm'),
    kubectl: join(cp.binDir, 'kubectl'),
    kubeconfig: cp.kubeconfigPath,
  });

  apiKey = `e2e-manager-${randomBytes(8).toString('hex')}`;
  emulator = await startEmulator({
    apiKeys: [{ key: apiKey, role: 'Manager' }],
    seed: await loadSampleSeed(),
    minCredentialTtlSeconds: 5,
  });
  seedRotation(emulator);

  // The release namespace enforces the restricted Pod Security Standard, so the ReplicaSet's
  // pods are admitted only if the chart's pod spec meets it.
  const pss = {
    'pod-security.kubernetes.io/enforce': 'restricted',
    'pod-security.kubernetes.io/enforce-version': 'latest',
  };
  for (const [name, labels] of [
    [NS, pss],
    [APP, {}],
    [OTHER, {}],
  ] as const) {
    await core().createNamespace({ body: { metadata: { name, labels } } });
  }
  for (const namespace of [NS, APP, OTHER]) {
    await core().createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'sm-api-key' }, stringData: { apikey: apiKey } },
    });
  }

  // Free ports for the two servers: the test runs the process on this host, not in a pod.
  const [metricsPort, healthPort] = await freePorts(2);
  const values = valuesFile({
    watchNamespaces: [APP],
    metrics: { port: metricsPort },
    healthProbe: { port: healthPort },
    defaultStore: {
      enabled: true,
      url: emulator.url,
      iamUrl: emulator.url,
      apiKeySecretRef: { name: 'sm-api-key', key: 'apikey' },
      conditions: [{ namespaces: [APP] }],
    },
  });
  try {
    installOutput = await tools.helm(['install', RELEASE, CHART_DIR, '-n', NS, '-f', values.path]);
  } finally {
    values.remove();
  }
  rendered = parseManifests(await tools.helm(['get', 'manifest', RELEASE, '-n', NS]));
}, 300_000);

afterAll(async () => {
  await operator?.stop();
  await emulator?.stop();
  await cp?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('helm install on a real API server', () => {
  it('creates the CRDs from crds/ and every object the chart renders', async () => {
    for (const name of [
      'externalsecrets',
      'iamcredentialleases',
      'secretstores',
      'clustersecretstores',
      'clusterexternalsecrets',
    ]) {
      const crd = await tools.kubectl(['get', 'crd', `${name}.${GROUP}`, '-o', 'json']);
      const conditions = (JSON.parse(crd) as { status: { conditions: Condition[] } }).status
        .conditions;
      expect(conditions.find((c) => c.type === 'Established')?.status, name).toBe('True');
    }
    expect(new Set(rendered.map((o) => o.kind))).toEqual(
      new Set([
        'ServiceAccount',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Service',
        'Deployment',
        'PodDisruptionBudget',
        'ClusterSecretStore',
      ]),
    );
    for (const obj of rendered) {
      expect(
        await exists(obj),
        `${obj.kind} ${obj.metadata.namespace ?? ''}/${obj.metadata.name}`,
      ).toBe(true);
    }
  });

  it('prints NOTES that say what to do next', () => {
    expect(installOutput).toContain(`kubectl -n ${NS} rollout status deployment/${FULLNAME}`);
    expect(installOutput).toContain(`The ClusterSecretStore "default" reads its API key`);
    expect(installOutput).toContain(`It handles resources in: ${APP}.`);
  });

  it("creates pods that meet the restricted Pod Security Standard (the ReplicaSet's pods are admitted)", async () => {
    const pods = await eventually(
      'the operator pods',
      async () => {
        const list = await core().listNamespacedPod({
          namespace: NS,
          labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
        });
        return list.items.length === 2 ? list.items : undefined;
      },
      60_000,
    );
    // No kubelet runs here: they stay Pending, but they exist, so admission let them in.
    for (const pod of pods) expect(pod.spec?.serviceAccountName).toBe(FULLNAME);
  });
});

describe("the operator run with the Deployment's args, env and ServiceAccount", () => {
  it('becomes ready on the probe endpoints and serves metrics', async () => {
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: FULLNAME, namespace: NS });
    command = podCommand(deployment, `${FULLNAME}-e2e`);
    saKubeconfig = await serviceAccountKubeconfig(
      tools,
      kc,
      NS,
      command.serviceAccountName,
      join(work, 'sa-kubeconfig'),
    );
    operator = startOperatorProcess(command, saKubeconfig);
    const running = operator;
    await eventually(
      `${command.readiness.path} on port ${command.readiness.port} (operator output: see failure)`,
      async () => {
        if (running.child.exitCode !== null) {
          throw new Error(`the operator exited ${running.child.exitCode}:\n${running.output()}`);
        }
        return (await probe(command.readiness)) === 200 ? true : undefined;
      },
      90_000,
      250,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${running.output().slice(-4000)}`);
    });
    expect(await probe(command.liveness)).toBe(200);
    const metrics = await fetch(`http://127.0.0.1:${command.ports.metrics}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('# TYPE');
  });

  it('leads through the Lease named in its args, in the release namespace', async () => {
    const id = command.args.find((a) => a.startsWith('--leader-election-id='))?.split('=')[1];
    expect(id).toBe(FULLNAME);
    const lease = await eventually(
      'the leader election Lease',
      async () => {
        try {
          const l = await kc
            .makeApiClient(CoordinationV1Api)
            .readNamespacedLease({ name: id ?? '', namespace: NS });
          return l.spec?.holderIdentity ? l : undefined;
        } catch (err) {
          if (isApiError(err, 404)) return undefined;
          throw err;
        }
      },
      60_000,
    );
    expect(lease.spec?.holderIdentity).toBeTruthy();
  });

  it("reports the chart's default ClusterSecretStore Ready after a real login", async () => {
    await eventually(
      'ClusterSecretStore default Ready',
      async () => {
        const store = (await custom().getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURALS.ClusterSecretStore,
          name: 'default',
        })) as CustomObject;
        return ready(store)?.status === 'True' ? true : undefined;
      },
      60_000,
    );
  });

  it('syncs every example ExternalSecret and issues every example lease (kubectl apply -f examples/)', async () => {
    await tools.kubectl(['apply', '-n', APP, ...exampleFiles().flatMap((f) => ['-f', f])]);
    const externalSecrets = await listCustom('ExternalSecret');
    expect(externalSecrets.length).toBeGreaterThanOrEqual(8);
    const synced = await eventually(
      'every example ExternalSecret Ready',
      async () => {
        const items = await listCustom('ExternalSecret');
        return items.every((es) => ready(es)?.status === 'True') ? items : undefined;
      },
      90_000,
      500,
    ).catch(async (err: Error) => {
      const items = await listCustom('ExternalSecret');
      const states = items.map((es) => `${es.metadata.name}: ${JSON.stringify(ready(es))}`);
      throw new Error(`${err.message}\n${states.join('\n')}`);
    });
    for (const es of synced) {
      const target = (es.spec.target as { name?: string } | undefined)?.name ?? es.metadata.name;
      expect(Object.keys(await secretData(APP, target)).length, target).toBeGreaterThan(0);
    }

    const leases = await listCustom('IAMCredentialLease');
    expect(leases.length).toBeGreaterThanOrEqual(2);
    for (const lease of leases) {
      const target = lease.spec.target as { name: string; keys: { apiKey: string } };
      const key = await eventually(
        `the leased key in ${target.name}`,
        async () => {
          try {
            return (await secretData(APP, target.name))[target.keys.apiKey];
          } catch {
            return undefined;
          }
        },
        60_000,
        250,
      );
      expect(emulator.isApiKeyValid(key), `${lease.metadata.name} holds a key IAM accepts`).toBe(
        true,
      );
    }
  });

  it('uses a SecretStore in a watched namespace, reading its key Secret there', async () => {
    await custom().createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.SecretStore,
      namespace: APP,
      body: {
        apiVersion: `${GROUP}/${VERSION}`,
        kind: 'SecretStore',
        metadata: { name: 'team-store' },
        spec: {
          secretsManager: {
            url: emulator.url,
            iamUrl: emulator.url,
            auth: { apiKey: { secretRef: { name: 'sm-api-key', key: 'apikey' } } },
          },
        },
      },
    });
    await eventually(
      'SecretStore team-store Ready',
      async () => {
        const store = (await custom().getNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURALS.SecretStore,
          namespace: APP,
          name: 'team-store',
        })) as CustomObject;
        return ready(store)?.status === 'True' ? true : undefined;
      },
      60_000,
    );
  });

  it('restarts the Deployment that reads a changed secret from env vars (rollout restart)', async () => {
    emulator.rotateSecret('0b5b8f3e-6f5c-4f7a-9d1e-2f0a7c3b1a05');
    await custom().patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ExternalSecret,
        namespace: APP,
        name: 'smtp-credentials',
        body: { metadata: { annotations: { [ANNOTATIONS.forceSync]: String(Date.now()) } } },
      },
      mergePatch,
    );
    await eventually(
      'the restart annotation on Deployment mailer',
      async () => {
        const d = await kc
          .makeApiClient(AppsV1Api)
          .readNamespacedDeployment({ name: 'mailer', namespace: APP });
        return d.spec?.template.metadata?.annotations?.[ANNOTATIONS.restartedAt];
      },
      60_000,
      250,
    );
  });

  it('rotates: the ExternalSecret follows a new remote version, the lease replaces its key', async () => {
    await applyRotationResources(kc, APP);
    const before = await waitForFirstSync(kc, APP);
    await rotate(emulator, kc, APP);
    const after = await waitForRotation(kc, APP, before);
    expect(after.apiKey).not.toBe(before.apiKey);
    const lease = (await custom().getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.IAMCredentialLease,
      namespace: APP,
      name: ROTATION.lease,
    })) as CustomObject;
    expect(ready(lease)?.status).toBe('True');
  });

  it('was never refused by the API server: the RBAC is sufficient', () => {
    const output = operator?.output() ?? '';
    expect(output).toContain('"msg"');
    // How a Kubernetes 403 shows in its log: client-node errors (describeError), its own
    // list/watch requests, or the API server's own words.
    const refusal =
      /Kubernetes API answered HTTP 403|"name":"ApiException"[^\n]*"status":403|: HTTP 403:|is forbidden: User/;
    expect(output.split('\n').filter((line) => refusal.test(line))).toEqual([]);
  });
});

/** `kubectl auth can-i` for each check, a few kubectl processes at a time (two shared cores). */
async function canIAll(subject: string, checks: Array<[boolean, string[]]>): Promise<boolean[]> {
  const answers: boolean[] = [];
  for (let i = 0; i < checks.length; i += 6) {
    const batch = checks.slice(i, i + 6).map(([, args]) => tools.canI(subject, args));
    answers.push(...(await Promise.all(batch)));
  }
  return answers;
}

describe('RBAC no wider than needed', () => {
  // `kubectl auth can-i` as the ServiceAccount; each would catch a lazy rule.
  const expected: Array<[boolean, string[]]> = [
    [true, ['list', 'secrets', '-n', APP]],
    [true, ['create', 'secrets', '-n', APP]],
    [true, ['delete', 'secrets', '-n', APP]],
    [true, ['patch', 'externalsecrets.secrets-manager.dev', '--subresource=status', '-n', APP]],
    [true, ['patch', 'deployments.apps', '-n', APP]],
    [true, ['create', 'events', '-n', APP]],
    [true, ['watch', 'clustersecretstores.secrets-manager.dev']],
    [true, ['list', 'namespaces']],
    [true, ['update', `leases.coordination.k8s.io/${FULLNAME}`, '-n', NS]],
    [true, ['create', 'secrets', '-n', NS]],
    [true, ['get', 'secrets', '-n', NS]],
    [false, ['get', 'secrets', '-n', OTHER]],
    [false, ['list', 'secrets', '--all-namespaces']],
    [false, ['get', 'secrets', '-n', 'kube-system']],
    [false, ['list', 'secrets', '-n', NS]],
    [false, ['update', 'secrets', '-n', APP]],
    [false, ['list', 'externalsecrets.secrets-manager.dev', '-n', OTHER]],
    [false, ['patch', 'deployments.apps', '-n', OTHER]],
    [false, ['get', 'deployments.apps', '-n', APP]],
    [false, ['create', 'pods', '-n', APP]],
    [false, ['create', 'pods/exec', '-n', APP]],
    [false, ['get', 'configmaps', '-n', APP]],
    [false, ['delete', 'customresourcedefinitions.apiextensions.k8s.io']],
    // For ClusterExternalSecrets, and only in the watched namespaces.
    [true, ['create', 'externalsecrets.secrets-manager.dev', '-n', APP]],
    [true, ['delete', 'externalsecrets.secrets-manager.dev', '-n', APP]],
    [false, ['create', 'externalsecrets.secrets-manager.dev', '-n', OTHER]],
    [false, ['update', 'externalsecrets.secrets-manager.dev', '-n', APP]],
    [true, ['watch', 'clusterexternalsecrets.secrets-manager.dev']],
    [true, ['patch', 'clusterexternalsecrets.secrets-manager.dev', '--subresource=status']],
    [false, ['create', 'clusterexternalsecrets.secrets-manager.dev']],
    [false, ['patch', 'clusterexternalsecrets.secrets-manager.dev']],
    [false, ['create', 'clustersecretstores.secrets-manager.dev']],
    [false, ['patch', 'clustersecretstores.secrets-manager.dev']],
    [false, ['create', 'leases.coordination.k8s.io', '-n', APP]],
    [false, ['update', 'leases.coordination.k8s.io/someone-elses', '-n', NS]],
    [false, ['create', 'rolebindings.rbac.authorization.k8s.io', '-n', NS]],
    [false, ['escalate', 'clusterroles.rbac.authorization.k8s.io']],
    [false, ['impersonate', 'serviceaccounts']],
    [false, ['*', '*']],
  ];

  it('allows what the operator needs and refuses the rest', async () => {
    const answers = await canIAll(SA, expected);
    const wrong = expected
      .map(([want, args], i) => ({ want, args: args.join(' '), got: answers[i] }))
      .filter((a) => a.got !== a.want);
    expect(wrong).toEqual([]);
  });

  it('in the all-namespaces mode, still no pods, CRDs or Leases elsewhere', async () => {
    const release = 'smo-all';
    const namespace = 'smo-all';
    await core().createNamespace({ body: { metadata: { name: namespace } } });
    await tools.helm(['install', release, CHART_DIR, '-n', namespace]);
    try {
      const sa = `system:serviceaccount:${namespace}:${release}-secrets-manager-operator`;
      const checks: Array<[boolean, string[]]> = [
        [true, ['list', 'secrets', '--all-namespaces']],
        [true, ['patch', 'iamcredentialleases.secrets-manager.dev', '-n', OTHER]],
        [
          true,
          [
            'get',
            `leases.coordination.k8s.io/${release}-secrets-manager-operator`,
            '-n',
            namespace,
          ],
        ],
        [false, ['create', 'pods', '-n', OTHER]],
        [false, ['get', 'configmaps', '-n', OTHER]],
        [false, ['delete', 'customresourcedefinitions.apiextensions.k8s.io']],
        [false, ['create', 'leases.coordination.k8s.io', '-n', OTHER]],
        [false, ['get', `leases.coordination.k8s.io/${FULLNAME}`, '-n', NS]],
        [false, ['update', 'secrets', '-n', OTHER]],
      ];
      const answers = await canIAll(sa, checks);
      const wrong = checks
        .map(([want, args], i) => ({ want, args: args.join(' '), got: answers[i] }))
        .filter((a) => a.got !== a.want);
      expect(wrong).toEqual([]);
    } finally {
      await tools.helm(['uninstall', release, '-n', namespace]);
    }
  });
});

describe('helm uninstall', () => {
  it("removes the chart's objects and leaves what the chart's README says remains", async () => {
    // The kubelet would stop the pods: SIGTERM, graceful shutdown, exit 0.
    expect(await operator?.stop()).toBe(0);
    const leases = await listCustom('IAMCredentialLease');
    const externalSecrets = await listCustom('ExternalSecret');

    await tools.helm(['uninstall', RELEASE, '-n', NS]);
    for (const obj of rendered) {
      await eventually(
        `${obj.kind} ${obj.metadata.name} deleted`,
        async () => ((await exists(obj)) ? undefined : true),
        30_000,
      );
    }

    // Helm never deletes what it installed from crds/.
    const crds = await tools.kubectl(['get', 'crd', '-o', 'name']);
    for (const plural of Object.values(PLURALS)) expect(crds).toContain(`${plural}.${GROUP}`);
    // The custom resources stay, with the finalizers the operator put on them.
    expect((await listCustom('ExternalSecret')).length).toBe(externalSecrets.length);
    const remaining = await listCustom('IAMCredentialLease');
    expect(remaining.length).toBe(leases.length);
    for (const lease of remaining) expect(lease.metadata.finalizers?.length).toBeGreaterThan(0);
    // So do the Secrets they wrote.
    expect(Object.keys(await secretData(APP, ROTATION.secret))).toEqual([ROTATION.secretKey]);
    expect(await secretData(APP, 'bucket-writer-credentials')).toHaveProperty('apikey');
    // And what the operator created at run time in its namespace, and the user's API key.
    await core().readNamespacedSecret({ name: HASH_KEY_SECRET, namespace: NS });
    await core().readNamespacedSecret({ name: 'sm-api-key', namespace: NS });
    await kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ name: FULLNAME, namespace: NS });

    // Nothing the chart granted outlives it: the token issued for its ServiceAccount is refused
    // (403 while the API server's token cache still knows it, 401 afterwards).
    const asOperator = new KubeConfig();
    asOperator.loadFromFile(saKubeconfig);
    const status = await asOperator
      .makeApiClient(CoreV1Api)
      .listNamespacedSecret({ namespace: APP })
      .then(
        () => 200,
        (err: { code?: number }) => err.code,
      );
    expect([401, 403]).toContain(status);

    // The README names each of these.
    const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Uninstalling'));
    for (const mention of [
      'CustomResourceDefinitions',
      ...Object.values(PLURALS),
      'finalizers',
      'creationPolicy: Orphan',
      HASH_KEY_SECRET,
      'leader election Lease',
      'API key Secret',
    ]) {
      expect(section, mention).toContain(mention);
    }
  });
});
