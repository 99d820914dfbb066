// Who may create a ClusterExternalSecret, asked of the real API server's authorizer (what
// `kubectl auth can-i` asks): the chart's aggregated roles are applied, the built-in admin, edit
// and view ClusterRoles pick them up (kube-controller-manager's aggregation controller), and a
// SubjectAccessReview shows that a namespace admin can manage ExternalSecrets but not create a
// ClusterExternalSecret, while a cluster admin can. The roles get names of this run, so this file
// shares the run's API server with the others.
import { randomBytes } from 'node:crypto';
import {
  AuthorizationV1Api,
  KubernetesObjectApi,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { binary, createNamespace, eventually, kubeConfig } from '../support/cluster.ts';
import { type Manifest, renderChart, rulesOf } from './chart.ts';

const kc = kubeConfig();
const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
const objects = kc.makeApiClient(KubernetesObjectApi);
const authz = kc.makeApiClient(AuthorizationV1Api);
const run = randomBytes(3).toString('hex');
const release = `agg-${run}`;
const namespaceAdmin = `namespace-admin-${run}`;
const editorEverywhere = `editor-everywhere-${run}`;
let namespace: string;
let aggregated: Manifest[] = [];

async function allowed(
  user: string,
  groups: string[],
  verb: string,
  resource: string,
  ns?: string,
): Promise<boolean> {
  const review = await authz.createSubjectAccessReview({
    body: {
      spec: {
        user,
        groups,
        resourceAttributes: {
          group: 'secrets-manager.dev',
          resource,
          verb,
          ...(ns ? { namespace: ns } : {}),
        },
      },
    },
  });
  return review.status?.allowed === true;
}

beforeAll(async () => {
  namespace = await createNamespace('agg');
  const rendered = await renderChart(binary('helm'), {}, { release });
  if (rendered.code !== 0) throw new Error(rendered.stderr);
  aggregated = rendered.objects.filter(
    (o) =>
      o.kind === 'ClusterRole' &&
      Object.keys(o.metadata.labels ?? {}).some((l) => l.includes('aggregate-to-')),
  );
  for (const role of aggregated) await objects.create(role);
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: namespaceAdmin },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: namespaceAdmin }],
    },
  });
  await rbac.createClusterRoleBinding({
    body: {
      metadata: { name: editorEverywhere },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'edit' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: editorEverywhere }],
    },
  });
  // The aggregation controller copies the chart's rules into admin and edit.
  await eventually(
    'the chart rules aggregated into admin',
    async () =>
      (await allowed(namespaceAdmin, [], 'create', 'externalsecrets', namespace))
        ? true
        : undefined,
    60_000,
    250,
  );
});

afterAll(async () => {
  for (const role of aggregated) await objects.delete(role).catch(() => undefined);
  await rbac.deleteClusterRoleBinding({ name: editorEverywhere }).catch(() => undefined);
});

describe("the chart's aggregated roles", () => {
  it('render two ClusterRoles that never name ClusterExternalSecrets or ClusterSecretStores', () => {
    expect(aggregated.map((r) => r.metadata.name).sort()).toEqual([
      `${release}-secrets-manager-operator-edit`,
      `${release}-secrets-manager-operator-view`,
    ]);
    const resources = aggregated.flatMap(rulesOf).flatMap((r) => r.resources ?? []);
    expect(resources).not.toContain('clusterexternalsecrets');
    expect(resources).not.toContain('clustersecretstores');
  });

  it('let a namespace admin manage ExternalSecrets but not create a ClusterExternalSecret', async () => {
    expect(await allowed(namespaceAdmin, [], 'create', 'externalsecrets', namespace)).toBe(true);
    expect(await allowed(namespaceAdmin, [], 'delete', 'externalsecrets', namespace)).toBe(true);
    for (const verb of ['create', 'update', 'patch', 'delete', 'get', 'list']) {
      expect(await allowed(namespaceAdmin, [], verb, 'clusterexternalsecrets'), verb).toBe(false);
    }
  });

  it('do not give it to edit even when edit is bound cluster-wide', async () => {
    expect(await allowed(editorEverywhere, [], 'create', 'externalsecrets', 'default')).toBe(true);
    expect(await allowed(editorEverywhere, [], 'create', 'clusterexternalsecrets')).toBe(false);
  });

  it('leave creating one to cluster admins', async () => {
    expect(
      await allowed(`cluster-admin-${run}`, ['system:masters'], 'create', 'clusterexternalsecrets'),
    ).toBe(true);
  });
});
