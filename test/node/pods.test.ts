// Real pods on a real node (test/setup/node.ts): the operator image built from the Dockerfile,
// installed with the chart as two pods that use their in-cluster config and ServiceAccount, and
// consumers that read the Secrets as mounted files and env vars.
//
// The Secrets Manager emulator runs in this process and listens on the host's side of the node's
// veth pair, the address pods reach (the API server listens there too, behind the `kubernetes`
// Service that kube-proxy programs on the node). The steps depend on each other and run in order.
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { ANNOTATIONS } from '../../src/controllers/shared/constants.ts';
import { type Emulator, startEmulator } from '../../src/emulator/index.ts';
import { CHART_DIR, ClusterTools, valuesFile } from '../integration/helm/chart.ts';
import { eventually } from '../integration/support/cluster.ts';

const cluster = inject('nodeCluster');
const RELEASE = 'smo';
const FULLNAME = 'smo-secrets-manager-operator';
const NS = 'smo-system';
const APP = 'team-a';
const READER = 'reader';
const ENV_APP = 'env-consumer';
const REMOTE = { value: 'pods-value', key: 'pods-key', env: 'pods-env' } as const;
const GRACE_SECONDS = 10;
const restricted = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};
const podSecurity = {
  runAsNonRoot: true,
  runAsUser: 65534,
  runAsGroup: 65534,
  seccompProfile: { type: 'RuntimeDefault' },
};

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/**
 * Prints "hashes <value> <apikey>" (SHA-256 of each mounted file) whenever either changes, so the
 * test sees what the container sees, with the kubelet's timestamp, and no value reaches a log.
 */
const READER_SCRIPT = `last=""
while true; do
  v=$(sha256sum < /etc/smo/value/value | cut -c1-64)
  k=$(sha256sum < /etc/smo/key/apikey | cut -c1-64)
  if [ "$v $k" != "$last" ]; then echo "hashes $v $k"; last="$v $k"; fi
  sleep 0.2
done`;

function readerPod(): V1Pod {
  return {
    metadata: { name: READER, namespace: APP },
    spec: {
      securityContext: podSecurity,
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'reader',
          image: cluster.busyboxImage,
          imagePullPolicy: 'Never',
          command: ['sh', '-c', READER_SCRIPT],
          securityContext: restricted,
          volumeMounts: [
            { name: 'value', mountPath: '/etc/smo/value', readOnly: true },
            { name: 'key', mountPath: '/etc/smo/key', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'value', secret: { secretName: 'mounted' } },
        { name: 'key', secret: { secretName: 'leased' } },
      ],
    },
  };
}

interface Hashes {
  at: number;
  value: string;
  apiKey: string;
}

describe('the operator as pods on a real node', () => {
  let emulator: Emulator;
  let kc: KubeConfig;
  let tools: ClusterTools;
  let core: CoreV1Api;
  let custom: CustomObjectsApi;

  const readerLog = async (): Promise<Hashes[]> => {
    const log = await core.readNamespacedPodLog({ name: READER, namespace: APP, timestamps: true });
    return log.split('\n').flatMap((line) => {
      const m = /^(\S+) hashes ([0-9a-f]{64}) ([0-9a-f]{64})$/.exec(line);
      return m?.[1] && m[2] && m[3]
        ? [{ at: Date.parse(m[1].replace(/(\.\d{3})\d*/, '$1')), value: m[2], apiKey: m[3] }]
        : [];
    });
  };
  const secretField = async (name: string, key: string) => {
    const data = (await core.readNamespacedSecret({ name, namespace: APP })).data?.[key];
    return data === undefined ? undefined : Buffer.from(data, 'base64').toString('utf8');
  };
  /** The emulator's IAM token endpoint, as a pod holding the key would call it. */
  const keyWorks = async (apiKey: string) => {
    const res = await fetch(`${emulator.url}/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ibm:params:oauth:grant-type:apikey',
        apikey: apiKey,
      }),
    });
    await res.arrayBuffer();
    return res.status === 200;
  };
  const forceSync = (name: string) =>
    custom.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        plural: PLURALS.ExternalSecret,
        namespace: APP,
        name,
        body: { metadata: { annotations: { [ANNOTATIONS.forceSync]: String(Date.now()) } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  const operatorPods = async () =>
    (
      await core.listNamespacedPod({
        namespace: NS,
        labelSelector: `app.kubernetes.io/instance=${RELEASE}`,
      })
    ).items;

  beforeAll(async () => {
    kc = new KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
    tools = new ClusterTools({
      helm: join(cluster.binDir, 'helm'),
      kubectl: join(cluster.binDir, 'kubectl'),
      kubeconfig: cluster.kubeconfigPath,
    });
    const apiKey = `pods-manager-${randomBytes(8).toString('hex')}`;
    // Where pods can reach it: the host's side of the node's network.
    emulator = await startEmulator({
      host: cluster.hostAddress,
      apiKeys: [{ key: apiKey, role: 'Manager' }],
      seed: {},
      minCredentialTtlSeconds: 5,
    });
    emulator.createSecret({ type: 'arbitrary', name: REMOTE.value, payload: 'mounted one' });
    emulator.createSecret({ type: 'arbitrary', name: REMOTE.env, payload: 'env one' });
    emulator.createSecret({
      type: 'iam_credentials',
      name: REMOTE.key,
      access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
      ttl: 30,
      reuse_api_key: false,
    });

    for (const name of [NS, APP]) {
      await core.createNamespace({
        body: {
          metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
        },
      });
    }
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'sm-api-key' }, stringData: { apikey: apiKey } },
    });
    const [repository, tag] = cluster.operatorImage.split(/:(?=[^:/]+$)/);
    const values = valuesFile({
      image: { repository, tag, pullPolicy: 'Never' },
      watchNamespaces: [APP],
      logLevel: 'debug',
      defaultStore: {
        enabled: true,
        url: emulator.url,
        iamUrl: emulator.url,
        apiKeySecretRef: { name: 'sm-api-key', key: 'apikey' },
        conditions: [{ namespaces: [APP] }],
      },
    });
    try {
      await tools.helm(['install', RELEASE, CHART_DIR, '-n', NS, '-f', values.path]);
      await tools.helm(['status', RELEASE, '-n', NS]);
      await tools.kubectl([
        'rollout',
        'status',
        `deployment/${FULLNAME}`,
        '-n',
        NS,
        '--timeout=180s',
      ]);
    } finally {
      values.remove();
    }
  }, 300_000);

  afterAll(async () => {
    await emulator?.stop();
  });

  it('runs two replicas of the built image as pods: in-cluster config, restricted, read-only root, probes passing', async () => {
    const deployment = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: FULLNAME, namespace: NS });
    expect(deployment.status?.readyReplicas).toBe(2);
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    for (const pod of pods) {
      expect(pod.spec?.nodeName).toBe(cluster.nodeName);
      expect(pod.spec?.serviceAccountName).toBe(FULLNAME);
      const container = pod.spec?.containers[0];
      expect(container?.image).toBe(cluster.operatorImage);
      expect(container?.securityContext).toMatchObject(restricted);
      expect(container?.livenessProbe?.httpGet).toBeDefined();
      expect(container?.readinessProbe?.httpGet).toBeDefined();
      // No kubeconfig: the in-cluster config of the ServiceAccount, through the Service.
      expect(container?.env?.some((e) => e.name === 'KUBECONFIG')).toBe(false);
      const status = pod.status?.containerStatuses?.[0];
      expect(status?.ready).toBe(true);
      expect(status?.restartCount).toBe(0);
      expect(pod.status?.podIP).toMatch(/^10\.88\./);
    }
  });

  it("reports the chart's default ClusterSecretStore Ready: the pods reach the API server and the emulator", async () => {
    await eventually(
      'ClusterSecretStore default Ready',
      async () => {
        const store = (await custom.getClusterCustomObject({
          group: GROUP,
          version: VERSION,
          plural: PLURALS.ClusterSecretStore,
          name: 'default',
        })) as { status?: { conditions?: Array<{ type: string; status: string }> } };
        const ready = store.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.status === 'True' ? true : undefined;
      },
      120_000,
      500,
    );
    expect(emulator.counters().requests['POST /identity/token']?.['200']).toBeGreaterThan(0);
  });

  let firstKey = '';
  let readerUid = '';

  it('a pod mounting an ExternalSecret sees the rotated value in its file, without a restart', async () => {
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.ExternalSecret,
      namespace: APP,
      body: {
        apiVersion: API_VERSION,
        kind: 'ExternalSecret',
        metadata: { name: 'mounted', namespace: APP },
        spec: {
          refreshInterval: '1h',
          data: [{ secretKey: 'value', remoteRef: { type: 'arbitrary', name: REMOTE.value } }],
        },
      },
    });
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.IAMCredentialLease,
      namespace: APP,
      body: {
        apiVersion: API_VERSION,
        kind: 'IAMCredentialLease',
        metadata: { name: 'leased', namespace: APP },
        spec: {
          credential: { name: REMOTE.key },
          target: { name: 'leased', keys: { apiKey: 'apikey', serviceId: 'service_id' } },
          renewFraction: 0.5,
          gracePeriod: `${GRACE_SECONDS}s`,
        },
      },
    });
    await eventually(
      'both Secrets written',
      async () =>
        (await secretField('mounted', 'value')) === 'mounted one' &&
        (await secretField('leased', 'apikey'))
          ? true
          : undefined,
      60_000,
      250,
    );

    const applied = Date.now();
    const created = await core.createNamespacedPod({ namespace: APP, body: readerPod() });
    readerUid = created.metadata?.uid ?? '';
    const first = await eventually(
      'the reader pod printing its files',
      async () => (await readerLog())[0],
      120_000,
      250,
    );
    console.log(
      `[timing] consumer pod started and read its files ${first.at - applied} ms after it was created`,
    );
    expect(first.value).toBe(sha256('mounted one'));
    firstKey = (await secretField('leased', 'apikey')) ?? '';

    emulator.rotateSecret(REMOTE.value, { payload: 'mounted two' });
    const rotated = Date.now();
    await forceSync('mounted');
    const seen = await eventually(
      'the rotated value in the mounted file',
      async () => (await readerLog()).find((h) => h.value === sha256('mounted two')),
      60_000,
      250,
    );
    console.log(`[timing] rotation to mounted file: ${seen.at - rotated} ms`);
    expect(seen.at).toBeGreaterThanOrEqual(rotated - 1000);

    const pod = await core.readNamespacedPod({ name: READER, namespace: APP });
    expect(pod.metadata?.uid).toBe(readerUid);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('a pod mounting a lease sees the re-leased key; the old key works through the grace period, then not', async () => {
    expect(firstKey).not.toBe('');
    // The credential lives 30 s and is replaced at half of it.
    const replaced = await eventually(
      'a re-leased key in the Secret',
      async () => {
        const key = await secretField('leased', 'apikey');
        return key && key !== firstKey ? key : undefined;
      },
      60_000,
      250,
    );
    const replacedAt = Date.now();
    await eventually(
      'the re-leased key in the mounted file',
      async () =>
        (await readerLog()).some((h) => h.apiKey === sha256(replaced)) ? true : undefined,
      30_000,
      250,
    );
    // The pod has the new key, and the one it had before still works: the grace period.
    expect(await keyWorks(firstKey)).toBe(true);
    expect(await keyWorks(replaced)).toBe(true);
    await eventually(
      'the old key revoked after the grace period',
      async () => ((await keyWorks(firstKey)) ? undefined : true),
      GRACE_SECONDS * 1000 + 30_000,
      250,
    );
    // Not before the grace period: the key was replaced at most a poll before replacedAt.
    const revokedAfterMs = Date.now() - replacedAt;
    console.log(`[timing] old key revoked ${revokedAfterMs} ms after the new one was written`);
    expect(revokedAfterMs).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 1000);
    const pod = await core.readNamespacedPod({ name: READER, namespace: APP });
    expect(pod.metadata?.uid).toBe(readerUid);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('rolls a Deployment that reads the Secret as env vars; its new pod has the new value', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      plural: PLURALS.ExternalSecret,
      namespace: APP,
      body: {
        apiVersion: API_VERSION,
        kind: 'ExternalSecret',
        metadata: { name: 'env', namespace: APP },
        spec: {
          refreshInterval: '1h',
          data: [{ secretKey: 'VALUE', remoteRef: { type: 'arbitrary', name: REMOTE.env } }],
          rolloutRestartTargets: [{ kind: 'Deployment', name: ENV_APP }],
        },
      },
    });
    await apps.createNamespacedDeployment({
      namespace: APP,
      body: {
        metadata: { name: ENV_APP, namespace: APP },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: ENV_APP } },
          template: {
            metadata: { labels: { app: ENV_APP } },
            spec: {
              securityContext: podSecurity,
              terminationGracePeriodSeconds: 1,
              containers: [
                {
                  name: 'app',
                  image: cluster.busyboxImage,
                  imagePullPolicy: 'Never',
                  command: [
                    'sh',
                    '-c',
                    'echo "value $(printf %s "$VALUE" | sha256sum | cut -c1-64)"; exec sleep 3600',
                  ],
                  env: [
                    { name: 'VALUE', valueFrom: { secretKeyRef: { name: 'env', key: 'VALUE' } } },
                  ],
                  securityContext: restricted,
                },
              ],
            },
          },
        },
      },
    });
    const podWith = (hash: string, except?: string) =>
      eventually(
        `a ${ENV_APP} pod with the value ${hash.slice(0, 8)}`,
        async () => {
          const pods = await core.listNamespacedPod({
            namespace: APP,
            labelSelector: `app=${ENV_APP}`,
          });
          for (const pod of pods.items) {
            const name = pod.metadata?.name ?? '';
            if (pod.metadata?.uid === except || pod.status?.phase !== 'Running') continue;
            const log = await core.readNamespacedPodLog({ name, namespace: APP });
            if (log.includes(`value ${hash}`)) return pod;
          }
          return undefined;
        },
        120_000,
        500,
      );
    const before = await podWith(sha256('env one'));
    emulator.rotateSecret(REMOTE.env, { payload: 'env two' });
    await forceSync('env');
    const after = await podWith(sha256('env two'), before.metadata?.uid);
    expect(after.metadata?.uid).not.toBe(before.metadata?.uid);
    const deployment = await apps.readNamespacedDeployment({ name: ENV_APP, namespace: APP });
    expect(deployment.spec?.template.metadata?.annotations).toBeDefined();
  });

  it('fails over: the leader pod deleted, another replica takes the Lease and keeps syncing', async () => {
    const leases = kc.makeApiClient(CoordinationV1Api);
    const holder = async () =>
      (await leases.readNamespacedLease({ name: FULLNAME, namespace: NS })).spec?.holderIdentity ??
      '';
    const pods = await operatorPods();
    const leaderId = await holder();
    const leader = pods.find((p) => p.metadata?.name && leaderId.includes(p.metadata.name));
    const leaderName = leader?.metadata?.name ?? '';
    expect(leaderName).not.toBe('');
    await core.deleteNamespacedPod({ name: leaderName, namespace: NS });
    const deleted = Date.now();
    // The standby usually wins (the leader releases the Lease on SIGTERM); the ReplicaSet's
    // replacement may win when the release is late. Either way a live replica, not the deleted one.
    const newLeader = await eventually(
      'another replica holding the Lease',
      async () => {
        const id = await holder();
        if (!id || id.includes(leaderName)) return undefined;
        const live = (await operatorPods()).find(
          (p) => p.metadata?.name && id.includes(p.metadata.name) && !p.metadata.deletionTimestamp,
        );
        return live;
      },
      60_000,
      250,
    );
    const tookMs = Date.now() - deleted;
    console.log(`[timing] leader takeover: ${tookMs} ms after the leader pod was deleted`);
    // Well inside the lease duration (15 s) plus a retry period: an election, not a restart.
    expect(tookMs).toBeLessThan(30_000);
    const standby = newLeader;
    emulator.rotateSecret(REMOTE.value, { payload: 'mounted three' });
    await forceSync('mounted');
    await eventually(
      'the new leader syncing a rotation into the mounted file',
      async () =>
        (await readerLog()).some((h) => h.value === sha256('mounted three')) ? true : undefined,
      60_000,
      250,
    );
    const standbyNow = await core.readNamespacedPod({
      name: standby?.metadata?.name ?? '',
      namespace: NS,
    });
    expect(standbyNow.status?.containerStatuses?.[0]?.restartCount).toBe(0);
  });

  it('helm uninstall, after the resources are deleted, leaves the CRDs and revokes every lease', async () => {
    for (const [plural, name] of [
      [PLURALS.ExternalSecret, 'mounted'],
      [PLURALS.ExternalSecret, 'env'],
      [PLURALS.IAMCredentialLease, 'leased'],
    ] as const) {
      await custom.deleteNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        plural,
        namespace: APP,
        name,
      });
    }
    await eventually(
      'the resources gone (finalizers removed by the operator pod)',
      async () => {
        const left = await Promise.all(
          [PLURALS.ExternalSecret, PLURALS.IAMCredentialLease].map(
            async (plural) =>
              (
                (await custom.listNamespacedCustomObject({
                  group: GROUP,
                  version: VERSION,
                  plural,
                  namespace: APP,
                })) as { items: unknown[] }
              ).items.length,
          ),
        );
        return left.every((n) => n === 0) ? true : undefined;
      },
      60_000,
      500,
    );
    expect(emulator.credentials().filter((c) => c.state === 'active')).toEqual([]);

    await tools.helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '2m']);
    await eventually(
      'the operator pods gone',
      async () => ((await operatorPods()).length === 0 ? true : undefined),
      60_000,
      500,
    );
    const crds = await tools.kubectl(['get', 'crd', '-o', 'name']);
    for (const plural of Object.values(PLURALS)) expect(crds).toContain(`${plural}.${GROUP}`);
    const stores = await tools.kubectl(['get', 'clustersecretstores', '-o', 'name']);
    expect(stores.trim()).toBe('');
    const sa = await tools.kubectlResult(['get', 'serviceaccount', FULLNAME, '-n', NS]);
    expect(sa.code).not.toBe(0);
  });
});
