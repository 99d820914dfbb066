// The chart on a real kubelet: k3s in a container (testcontainers), the operator image built
// from the repository's Dockerfile and imported into k3s (no registry is involved), the chart
// installed with it and `--wait` (both replicas pass their probes with a read-only root
// filesystem under the restricted Pod Security Standard), then the rotation scenario of
// test/integration/helm/scenario.ts with a pod that mounts both Secrets and sees them change
// without a restart. The Secrets Manager emulator runs in this process; pods reach it through
// the testcontainers port forwarder.
//
// It needs a Docker engine (and registry access for the base images). Without one every test
// here is reported as skipped, with the reason in its name, never as passed. The same scenario
// runs without a pod on the local control plane in test/integration/helm/install.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Pod,
} from '@kubernetes/client-node';
import { K3sContainer, type StartedK3sContainer } from '@testcontainers/k3s';
import { GenericContainer, TestContainers } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { type Emulator, startEmulator } from '../../src/emulator/index.ts';
import { resolveBinaries } from '../controlplane/controlplane.ts';
import { CHART_DIR, ClusterTools, REPO_ROOT, valuesFile } from '../integration/helm/chart.ts';
import {
  applyRotationResources,
  ROTATION,
  type RotationState,
  rotate,
  seedRotation,
  waitForFirstSync,
  waitForRotation,
} from '../integration/helm/scenario.ts';
import { eventually } from '../integration/support/cluster.ts';
import { loadSampleSeed } from '../integration/support/emulator.ts';
import { dockerAvailability, hostAddressSeenFromK3s, loadImageIntoK3s } from './docker.ts';

const docker = await dockerAvailability();
if (!docker.available) {
  process.stderr.write(`[k3s] skipping the k3s suite: ${docker.reason}\n`);
}
const suiteName = docker.available
  ? 'the chart on k3s'
  : `the chart on k3s (skipped: ${docker.reason})`;

const K3S_IMAGE = process.env.SMO_K3S_IMAGE ?? 'rancher/k3s:v1.31.2-k3s1';
const IMAGE_REPOSITORY = 'secrets-manager-operator';
const IMAGE_TAG = 'k3s-e2e';
const IMAGE = `${IMAGE_REPOSITORY}:${IMAGE_TAG}`;
const RELEASE = 'smo';
const FULLNAME = 'smo-secrets-manager-operator';
const NS = 'smo-system';
const APP = 'team-a';
const READER = 'rotation-reader';

/**
 * Prints one JSON line with the SHA-256 of each mounted file whenever one changes: the test
 * compares hashes, so no value reaches a log. It runs on the operator image (Node, no shell).
 */
const READER_SCRIPT = `
const { readFileSync } = require('node:fs');
const { createHash } = require('node:crypto');
const files = { value: '/etc/rotation/value/${ROTATION.secretKey}', apiKey: '/etc/rotation/key/${ROTATION.apiKeyKey}' };
let last = '';
setInterval(() => {
  const out = {};
  for (const [name, file] of Object.entries(files)) {
    try { out[name] = createHash('sha256').update(readFileSync(file, 'utf8')).digest('hex'); }
    catch { out[name] = null; }
  }
  const line = JSON.stringify(out);
  if (line !== last) { console.log(line); last = line; }
}, 1000);
`;

function readerPod(): V1Pod {
  const restricted = {
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    runAsNonRoot: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
  return {
    metadata: { name: READER, namespace: APP },
    spec: {
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 },
      containers: [
        {
          name: 'reader',
          image: IMAGE,
          imagePullPolicy: 'Never',
          command: ['/nodejs/bin/node', '-e', READER_SCRIPT],
          securityContext: restricted,
          volumeMounts: [
            { name: 'value', mountPath: '/etc/rotation/value', readOnly: true },
            { name: 'key', mountPath: '/etc/rotation/key', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'value', secret: { secretName: ROTATION.secret } },
        { name: 'key', secret: { secretName: ROTATION.leaseSecret } },
      ],
    },
  };
}

describe.skipIf(!docker.available)(suiteName, () => {
  let emulator: Emulator;
  let k3s: StartedK3sContainer;
  let kc: KubeConfig;
  let work: string;

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'smo-k3s-'));
    const apiKey = `k3s-manager-${randomBytes(8).toString('hex')}`;
    emulator = await startEmulator({
      apiKeys: [{ key: apiKey, role: 'Manager' }],
      seed: await loadSampleSeed(),
      minCredentialTtlSeconds: 5,
    });
    seedRotation(emulator);
    // Before k3s starts: containers started afterwards get the forwarder in /etc/hosts.
    await TestContainers.exposeHostPorts(emulator.port);

    // The image of the Dockerfile, as a user would build it.
    await GenericContainer.fromDockerfile(REPO_ROOT).build(IMAGE, { deleteOnExit: false });
    k3s = await new K3sContainer(K3S_IMAGE).start();
    await loadImageIntoK3s(k3s, IMAGE);
    const emulatorUrl = `http://${await hostAddressSeenFromK3s(k3s)}:${emulator.port}`;

    const kubeconfig = join(work, 'kubeconfig');
    writeFileSync(kubeconfig, k3s.getKubeConfig(), { mode: 0o600 });
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    const bin = await resolveBinaries();
    const tools = new ClusterTools({
      helm: join(bin, 'helm'),
      kubectl: join(bin, 'kubectl'),
      kubeconfig,
    });

    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({
      body: {
        metadata: {
          name: NS,
          labels: { 'pod-security.kubernetes.io/enforce': 'restricted' },
        },
      },
    });
    await core.createNamespace({
      body: {
        metadata: { name: APP, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
      },
    });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'sm-api-key' }, stringData: { apikey: apiKey } },
    });
    const values = valuesFile({
      image: { repository: IMAGE_REPOSITORY, tag: IMAGE_TAG, pullPolicy: 'Never' },
      watchNamespaces: [APP],
      defaultStore: {
        enabled: true,
        url: emulatorUrl,
        iamUrl: emulatorUrl,
        apiKeySecretRef: { name: 'sm-api-key', key: 'apikey' },
        conditions: [{ namespaces: [APP] }],
      },
    });
    try {
      await tools.helm([
        'install',
        RELEASE,
        CHART_DIR,
        '-n',
        NS,
        '-f',
        values.path,
        '--wait',
        '--timeout',
        '5m',
      ]);
    } finally {
      values.remove();
    }
  }, 1_200_000);

  afterAll(async () => {
    await k3s?.stop();
    await emulator?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 120_000);

  it('runs both replicas of the image under the chart, ready on their probes, never restarted', async () => {
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: FULLNAME, namespace: NS });
    expect(deployment.status?.readyReplicas).toBe(2);
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({
      namespace: NS,
      labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
    });
    for (const pod of pods.items) {
      expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
    }
  });

  it("reports the chart's default ClusterSecretStore Ready", async () => {
    await eventually(
      'ClusterSecretStore default Ready',
      async () => {
        const store = (await kc.makeApiClient(CustomObjectsApi).getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURALS.ClusterSecretStore,
          name: 'default',
        })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        const ready = store.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' ? true : undefined;
      },
      120_000,
    );
  });

  it('a pod that mounts the Secrets sees the ExternalSecret and the lease rotate, without a restart', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await applyRotationResources(kc, APP);
    const before = await waitForFirstSync(kc, APP, 120_000);
    await core.createNamespacedPod({ namespace: APP, body: readerPod() });

    await eventually(
      'the reader pod running',
      async () => {
        const pod = await core.readNamespacedPod({ name: READER, namespace: APP });
        return pod.status?.phase === 'Running' ? pod : undefined;
      },
      180_000,
      1_000,
    );
    const started = await core.readNamespacedPod({ name: READER, namespace: APP });
    const startedAt = started.status?.containerStatuses?.[0]?.state?.running?.startedAt;

    await rotate(emulator, kc, APP);
    const after = await waitForRotation(kc, APP, before, 120_000);
    expect(after.value).not.toBe(before.value);
    // A later lease renewal may replace the key again before the kubelet syncs; what the pod
    // must see is the ExternalSecret's new value next to a key that is not the first one.
    await eventually(
      'the rotated values in the mounted files',
      async () => {
        const log = await core.readNamespacedPodLog({ name: READER, namespace: APP });
        const seen = log
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .map((l) => JSON.parse(l) as RotationState);
        return seen.some((l) => l.value === after.value && l.apiKey && l.apiKey !== before.apiKey)
          ? true
          : undefined;
      },
      240_000,
      2_000,
    );
    const pod = await core.readNamespacedPod({ name: READER, namespace: APP });
    const status = pod.status?.containerStatuses?.[0];
    expect(status?.restartCount).toBe(0);
    expect(status?.state?.running?.startedAt).toEqual(startedAt);
    expect(pod.metadata?.uid).toBe(started.metadata?.uid);
  });
});
