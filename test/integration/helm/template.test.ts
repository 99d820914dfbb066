// The chart as `helm lint` and `helm template` see it (the helm binary of the local control
// plane; no cluster): what the defaults render, what watchNamespaces changes, that the operator
// accepts the flags the chart gives it, and that wrong values fail with a message that names them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderCrdFiles } from '../../../src/api/crd.ts';
import { parseClusterSecretStore } from '../../../src/api/index.ts';
import { parseConfig } from '../../../src/config/config.ts';
import { binary } from '../support/cluster.ts';
import {
  CHART_DIR,
  type Manifest,
  type PolicyRule,
  renderChart,
  rulesOf,
  runCommand,
} from './chart.ts';

const helm = () => binary('helm');

interface Container {
  name: string;
  image: string;
  args: string[];
  env?: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports: Array<{ name: string; containerPort: number }>;
  livenessProbe: { httpGet: { path: string; port: string | number } };
  readinessProbe: { httpGet: { path: string; port: string | number } };
  securityContext: Record<string, unknown>;
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: unknown[];
}

interface DeploymentManifest extends Manifest {
  spec: {
    replicas: number;
    template: {
      spec: {
        serviceAccountName: string;
        securityContext: Record<string, unknown>;
        containers: Container[];
        volumes?: unknown[];
      };
    };
  };
}

function find(objects: Manifest[], kind: string, name?: string): Manifest[] {
  return objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
}

function deployment(objects: Manifest[]): DeploymentManifest {
  const [d] = find(objects, 'Deployment');
  if (!d) throw new Error('no Deployment rendered');
  return d as DeploymentManifest;
}

function container(objects: Manifest[]): Container {
  const c = deployment(objects).spec.template.spec.containers[0];
  if (!c) throw new Error('no container');
  return c;
}

async function render(values: object, args: string[] = []) {
  const result = await renderChart(helm(), values, { args });
  if (result.code !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  return result.objects;
}

/** Every rule granting `verb` on `resource` (group/resource) in these roles. */
function grants(roles: Manifest[], group: string, resource: string, verb: string): PolicyRule[] {
  return roles
    .flatMap(rulesOf)
    .filter(
      (r) =>
        (r.apiGroups ?? []).includes(group) &&
        (r.resources ?? []).includes(resource) &&
        r.verbs.includes(verb),
    );
}

describe('helm lint', () => {
  it('passes --strict with the defaults and with every option on', async () => {
    for (const set of [
      [],
      [
        '--set',
        'defaultStore.enabled=true,defaultStore.instanceId=0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
        '--set',
        'defaultStore.region=us-south,defaultStore.private=true,watchNamespaces={a,b}',
        '--set',
        'rbac.tokenRequest=true,projectedToken.enabled=true',
      ],
    ]) {
      const result = await runCommand(helm(), ['lint', '--strict', CHART_DIR, ...set]);
      expect(result.code, result.stdout + result.stderr).toBe(0);
    }
  });
});

describe('helm template with the defaults', () => {
  it('renders the operator: two replicas under leader election, a PDB, probes, restricted pods', async () => {
    const objects = await render({});
    const d = deployment(objects);
    const c = container(objects);
    expect(d.spec.replicas).toBe(2);
    expect(c.image).toBe('secrets-manager-operator:0.1.0');
    expect(c.args).toContain('--leader-elect=true');
    expect(c.args).toContain('--leader-election-namespace=smo-system');
    const [pdb] = find(objects, 'PodDisruptionBudget');
    expect(pdb?.spec).toMatchObject({ minAvailable: 1 });

    const port = (name: string | number) =>
      typeof name === 'number' ? name : c.ports.find((p) => p.name === name)?.containerPort;
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(port(c.readinessProbe.httpGet.port)).toBe(8081);
    expect(c.args).toContain('--health-probe-bind-address=:8081');
    expect(c.args).toContain('--metrics-bind-address=:8080');

    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(d.spec.template.spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(c.resources.requests).toBeDefined();
    expect(c.resources.limits?.memory).toBeDefined();
    // The process writes nothing, so nothing writable is mounted.
    expect(d.spec.template.spec.volumes).toBeUndefined();
    expect(c.volumeMounts).toBeUndefined();

    const [service] = find(objects, 'Service');
    expect(service?.spec).toMatchObject({ ports: [{ name: 'metrics', targetPort: 'metrics' }] });
    expect(find(objects, 'ServiceMonitor')).toEqual([]);
    expect(find(objects, 'ClusterSecretStore')).toEqual([]);
  });

  it('gives the operator flags it accepts', async () => {
    for (const values of [
      {},
      {
        watchNamespaces: ['team-a', 'team-b'],
        labelSelector: 'shard in (a,b)',
        extraArgs: ['--resync-period=1h'],
      },
      { replicas: 1, leaderElection: { enabled: false } },
    ]) {
      const c = container(await render(values));
      const env = { POD_NAMESPACE: 'smo-system' };
      expect(() => parseConfig(c.args, env), JSON.stringify(values)).not.toThrow();
    }
  });

  it('watches every namespace through a ClusterRole, with no wildcard anywhere', async () => {
    const objects = await render({});
    const clusterRoles = find(objects, 'ClusterRole');
    expect(grants(clusterRoles, '', 'secrets', 'list').length).toBeGreaterThan(0);
    for (const role of [...clusterRoles, ...find(objects, 'Role')]) {
      for (const rule of rulesOf(role)) {
        for (const field of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs]) {
          expect(field, `${role.metadata.name}`).not.toContain('*');
        }
      }
    }
    // Leases only in the release namespace, and only the one named for leader election.
    const leaseRules = [...clusterRoles, ...find(objects, 'Role')].flatMap((role) =>
      rulesOf(role)
        .filter((r) => (r.resources ?? []).includes('leases'))
        .map((r) => ({ role, r })),
    );
    for (const { role, r } of leaseRules) {
      expect(role.kind).toBe('Role');
      expect(role.metadata.namespace).toBe('smo-system');
      if (r.verbs.includes('update'))
        expect(r.resourceNames).toEqual(['smo-secrets-manager-operator']);
    }
  });

  it('with watchNamespaces grants Secrets only in those namespaces', async () => {
    const objects = await render({ watchNamespaces: ['team-a', 'team-b'] });
    expect(container(objects).args).toContain('--watch-namespaces=team-a,team-b');
    const clusterRoles = find(objects, 'ClusterRole').filter(
      (r) => !/-(edit|view)$/.test(r.metadata.name),
    );
    for (const verb of ['get', 'list', 'watch', 'create', 'patch', 'delete']) {
      expect(grants(clusterRoles, '', 'secrets', verb), verb).toEqual([]);
    }
    const roles = find(objects, 'Role');
    const secretRoles = roles.filter((r) => grants([r], '', 'secrets', 'list').length > 0);
    expect(secretRoles.map((r) => r.metadata.namespace).sort()).toEqual(['team-a', 'team-b']);
    const bindings = find(objects, 'RoleBinding');
    for (const ns of ['team-a', 'team-b', 'smo-system']) {
      expect(bindings.some((b) => b.metadata.namespace === ns)).toBe(true);
    }
  });

  it('installs the generated CRDs, unchanged', async () => {
    // What `helm install` creates before the templates (--include-crds renders crds/ as is).
    const result = await renderChart(helm(), {}, { args: ['--include-crds'] });
    expect(result.code).toBe(0);
    const shown = find(result.objects, 'CustomResourceDefinition');
    const generated = renderCrdFiles().map((f) => f.crd);
    expect(shown.map((c) => c.metadata.name).sort()).toEqual(
      generated.map((c) => c.metadata.name).sort(),
    );
    for (const crd of generated) {
      expect(shown.find((c) => c.metadata.name === crd.metadata.name)).toEqual(
        JSON.parse(JSON.stringify(crd)),
      );
    }
    // One source: the chart has no CRD of its own beside the generated files.
    expect(readdirSync(join(CHART_DIR, 'crds')).sort()).toEqual(
      renderCrdFiles()
        .map((f) => f.fileName)
        .sort(),
    );
  });
});

describe('helm template with options', () => {
  it('renders the default ClusterSecretStore as the operator parses it', async () => {
    for (const store of [
      { url: 'http://127.0.0.1:8200', iamUrl: 'http://127.0.0.1:8200' },
      { instanceId: '0a1b2c3d-aaaa-bbbb-cccc-0123456789ab', region: 'eu-de', private: true },
    ]) {
      const objects = await render({
        defaultStore: {
          enabled: true,
          ...store,
          apiKeySecretRef: { name: 'sm-api-key', key: 'apikey' },
          conditions: [{ namespaces: ['team-a'] }],
          rateLimit: { qps: 5, burst: 10 },
          pollInterval: '30s',
        },
      });
      const [css] = find(objects, 'ClusterSecretStore', 'default');
      const parsed = parseClusterSecretStore(css);
      expect(parsed, JSON.stringify(parsed)).toMatchObject({ ok: true });
      expect(css?.spec).toMatchObject({
        secretsManager: {
          ...store,
          auth: { apiKey: { secretRef: { name: 'sm-api-key', namespace: 'smo-system' } } },
        },
        conditions: [{ namespaces: ['team-a'] }],
        pollInterval: '30s',
      });
    }
  });

  it('renders a ServiceMonitor when the cluster serves its API, and no PDB for one replica', async () => {
    const objects = await render(
      { serviceMonitor: { enabled: true, labels: { release: 'prometheus' } } },
      ['--api-versions', 'monitoring.coreos.com/v1/ServiceMonitor'],
    );
    const [sm] = find(objects, 'ServiceMonitor');
    expect(sm?.metadata.labels?.release).toBe('prometheus');
    expect(sm?.spec).toMatchObject({ endpoints: [{ port: 'metrics', path: '/metrics' }] });

    const single = await render({ replicas: 1 });
    expect(find(single, 'PodDisruptionBudget')).toEqual([]);
  });

  it('takes scheduling, image and environment values', async () => {
    const objects = await render({
      image: { repository: 'registry.example/smo', tag: '1.2.3' },
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      tolerations: [{ key: 'dedicated', operator: 'Exists', effect: 'NoSchedule' }],
      priorityClassName: 'system-cluster-critical',
      extraEnv: [{ name: 'NODE_OPTIONS', value: '--max-old-space-size=256' }],
    });
    const spec = deployment(objects).spec.template.spec as Record<string, unknown>;
    expect(container(objects).image).toBe('registry.example/smo:1.2.3');
    expect(spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux' });
    expect(spec.priorityClassName).toBe('system-cluster-critical');
    expect(spec.tolerations).toHaveLength(1);
    expect(container(objects).env?.map((e) => e.name)).toEqual(['POD_NAMESPACE', 'NODE_OPTIONS']);
  });
});

describe('keyless stores (IAM trusted profiles)', () => {
  const allRoles = (objects: Manifest[]) => [
    ...find(objects, 'ClusterRole'),
    ...find(objects, 'Role'),
  ];

  it('grants no serviceaccounts/token and mounts no token by default', async () => {
    const objects = await render({});
    expect(grants(allRoles(objects), '', 'serviceaccounts/token', 'create')).toEqual([]);
    expect(deployment(objects).spec.template.spec.volumes).toBeUndefined();
    expect(container(objects).volumeMounts).toBeUndefined();
  });

  it('grants TokenRequest cluster-wide, or in the watched and release namespaces, when enabled', async () => {
    const cluster = await render({ rbac: { tokenRequest: true } });
    const clusterRoles = find(cluster, 'ClusterRole');
    expect(grants(clusterRoles, '', 'serviceaccounts/token', 'create')).toHaveLength(1);
    // Only create: never reading or listing service accounts or their tokens.
    for (const verb of ['get', 'list', 'watch', 'patch', 'delete']) {
      expect(grants(allRoles(cluster), '', 'serviceaccounts/token', verb), verb).toEqual([]);
    }
    const bound = find(cluster, 'ClusterRoleBinding').filter((b) =>
      b.metadata.name.endsWith('-token-request'),
    );
    expect(bound).toHaveLength(1);

    const scoped = await render({ rbac: { tokenRequest: true }, watchNamespaces: ['team-a'] });
    expect(grants(find(scoped, 'ClusterRole'), '', 'serviceaccounts/token', 'create')).toEqual([]);
    const roles = find(scoped, 'Role').filter(
      (r) => grants([r], '', 'serviceaccounts/token', 'create').length > 0,
    );
    expect(roles.map((r) => r.metadata.namespace).sort()).toEqual(['smo-system', 'team-a']);
  });

  it('mounts a projected token with the audience, lifetime and path asked for', async () => {
    const objects = await render({
      projectedToken: { enabled: true, audience: 'iam', expirationSeconds: 1800 },
    });
    expect(deployment(objects).spec.template.spec.volumes).toEqual([
      {
        name: 'trusted-profile-token',
        projected: {
          sources: [
            { serviceAccountToken: { audience: 'iam', expirationSeconds: 1800, path: 'sa-token' } },
          ],
        },
      },
    ]);
    expect(container(objects).volumeMounts).toEqual([
      { name: 'trusted-profile-token', mountPath: '/var/run/secrets/tokens', readOnly: true },
    ]);
    const other = await render({ projectedToken: { enabled: true, path: '/tokens/iam/token' } });
    expect(container(other).volumeMounts).toEqual([
      { name: 'trusted-profile-token', mountPath: '/tokens/iam', readOnly: true },
    ]);
  });

  it('refuses a token lifetime IAM would not take', async () => {
    const result = await renderChart(helm(), { projectedToken: { expirationSeconds: 7200 } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expirationSeconds');
  });
});

describe('wrong values fail at install time', () => {
  it.each([
    ['a misspelt key', { replica: 3 }, "additional properties 'replica'"],
    ['a negative replica count', { replicas: -1 }, '/replicas'],
    ['an unknown log level', { logLevel: 'loud' }, '/logLevel'],
    ['a namespace name that cannot exist', { watchNamespaces: ['Team_A'] }, '/watchNamespaces/0'],
    [
      'a duration without a unit',
      { leaderElection: { leaseDuration: 15 } },
      '/leaderElection/leaseDuration',
    ],
    ['an unknown pull policy', { image: { pullPolicy: 'Sometimes' } }, '/image/pullPolicy'],
    ['an extra argument that is not a flag', { extraArgs: ['verbose'] }, '/extraArgs/0'],
    [
      'a store region that does not exist',
      {
        defaultStore: { enabled: true, region: 'mars-1', apiKeySecretRef: { name: 'k', key: 'k' } },
      },
      '/defaultStore/region',
    ],
    [
      'two replicas without leader election',
      { leaderElection: { enabled: false } },
      'replicas > 1 needs leaderElection.enabled=true',
    ],
    [
      'a default store without an endpoint',
      { defaultStore: { enabled: true } },
      'exactly one of defaultStore.url or defaultStore.instanceId',
    ],
    [
      'a default store with both url and instanceId',
      {
        defaultStore: {
          enabled: true,
          url: 'https://sm.example',
          instanceId: '0a1b2c3d-aaaa-bbbb-cccc-0123456789ab',
          region: 'us-south',
        },
      },
      'exactly one of defaultStore.url or defaultStore.instanceId',
    ],
    [
      'a ServiceMonitor without the Prometheus Operator CRDs',
      { serviceMonitor: { enabled: true } },
      'serviceMonitor.enabled needs the Prometheus Operator CRDs',
    ],
  ])('%s', async (_what, values, message) => {
    const result = await renderChart(helm(), values);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(message);
  });
});
