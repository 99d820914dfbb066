// Proves the local control plane is a real Kubernetes API server with the machinery an operator
// relies on: CRDs, informers, the status subresource, finalizers and garbage collection.
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  type KubernetesObject,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalExternalSecret } from '../../src/api/examples.ts';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { createNamespace, eventually, kubeConfig } from './support/cluster.ts';

const group = 'controlplane.test.secrets-manager.dev';
const version = 'v1';
const plural = 'widgets';

interface Widget extends KubernetesObject {
  spec?: { size?: number };
  status?: { phase?: string };
}

const crd: V1CustomResourceDefinition = {
  metadata: { name: `${plural}.${group}` },
  spec: {
    group,
    scope: 'Namespaced',
    names: { plural, singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: version,
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', properties: { size: { type: 'integer', minimum: 0 } } },
              status: { type: 'object', properties: { phase: { type: 'string' } } },
            },
          },
        },
      },
    ],
  },
};

const kc = kubeConfig();
const custom = kc.makeApiClient(CustomObjectsApi);
const core = kc.makeApiClient(CoreV1Api);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
let namespace: string;

const getWidget = async (name: string) =>
  (await custom.getNamespacedCustomObject({ group, version, namespace, plural, name })) as Widget;
const notFound = (err: unknown) => (err as { code?: number }).code === 404;

beforeAll(async () => {
  const ext = kc.makeApiClient(ApiextensionsV1Api);
  await ext.createCustomResourceDefinition({ body: crd }).catch((err: { code?: number }) => {
    if (err.code !== 409) throw err;
  });
  namespace = await createNamespace('controlplane');
});

describe('the local control plane', () => {
  it('establishes a CustomResourceDefinition', async () => {
    const ext = kc.makeApiClient(ApiextensionsV1Api);
    const established = await eventually('the CRD to be Established', async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      const cond = got.status?.conditions?.find((c) => c.type === 'Established');
      return cond?.status === 'True' ? cond : undefined;
    });
    expect(established.status).toBe('True');
  });

  it('validates custom resources against the schema', async () => {
    await expect(
      custom.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'Widget',
          metadata: { name: 'bad' },
          spec: { size: -1 },
        },
      }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it('delivers adds and updates to a client-node informer', async () => {
    const path = `/apis/${group}/${version}/namespaces/${namespace}/${plural}`;
    const informer = makeInformer<Widget>(kc, path, () =>
      custom.listNamespacedCustomObject({ group, version, namespace, plural }),
    );
    const seen: string[] = [];
    informer.on('add', (w) => seen.push(`add ${w.metadata?.name} ${w.spec?.size}`));
    informer.on('update', (w) => seen.push(`update ${w.metadata?.name} ${w.spec?.size}`));
    await informer.start();
    try {
      await custom.createNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        body: {
          apiVersion: `${group}/${version}`,
          kind: 'Widget',
          metadata: { name: 'watched' },
          spec: { size: 1 },
        },
      });
      await eventually('the add event', async () =>
        seen.includes('add watched 1') ? true : undefined,
      );
      await custom.patchNamespacedCustomObject(
        { group, version, namespace, plural, name: 'watched', body: { spec: { size: 2 } } },
        mergePatch,
      );
      await eventually('the update event', async () =>
        seen.includes('update watched 2') ? true : undefined,
      );
      expect(informer.get('watched', namespace)?.spec?.size).toBe(2);
    } finally {
      await informer.stop();
    }
  });

  it('keeps status behind the status subresource', async () => {
    await custom.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body: {
        apiVersion: `${group}/${version}`,
        kind: 'Widget',
        metadata: { name: 'status' },
        spec: { size: 1 },
      },
    });
    // A write to the main resource ignores status...
    await custom.patchNamespacedCustomObject(
      { group, version, namespace, plural, name: 'status', body: { status: { phase: 'Ignored' } } },
      mergePatch,
    );
    expect((await getWidget('status')).status?.phase).toBeUndefined();
    // ...and a write to the status subresource changes status and not the generation.
    const before = await getWidget('status');
    await custom.patchNamespacedCustomObjectStatus(
      { group, version, namespace, plural, name: 'status', body: { status: { phase: 'Ready' } } },
      mergePatch,
    );
    const after = await getWidget('status');
    expect(after.status?.phase).toBe('Ready');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
  });

  it('holds a deleted object until its finalizer is removed', async () => {
    await custom.createNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      body: {
        apiVersion: `${group}/${version}`,
        kind: 'Widget',
        metadata: { name: 'final', finalizers: ['secrets-manager.dev/test'] },
      },
    });
    await custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'final' });
    const held = await getWidget('final');
    expect(held.metadata?.deletionTimestamp).toBeDefined();

    await custom.patchNamespacedCustomObject(
      {
        group,
        version,
        namespace,
        plural,
        name: 'final',
        body: { metadata: { finalizers: null } },
      },
      mergePatch,
    );
    await eventually('the object to be gone', async () =>
      getWidget('final').then(
        () => undefined,
        (err) => (notFound(err) ? true : undefined),
      ),
    );
  });

  it('garbage-collects an owned object after its owner is deleted', async () => {
    // The owner is an ExternalSecret, whose CRD the global setup installed before any test ran:
    // the garbage collector discovers new resource types only every 30 s.
    const owner = (await custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURALS.ExternalSecret,
      body: { ...minimalExternalSecret, metadata: { name: 'owner', namespace } },
    })) as KubernetesObject;
    await core.createNamespacedConfigMap({
      namespace,
      body: {
        metadata: {
          name: 'owned',
          ownerReferences: [
            {
              apiVersion: API_VERSION,
              kind: 'ExternalSecret',
              name: 'owner',
              uid: owner.metadata!.uid!,
              controller: true,
            },
          ],
        },
        data: { k: 'v' },
      },
    });
    await custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural: PLURALS.ExternalSecret,
      name: 'owner',
    });
    await eventually('the garbage collector to delete the owned ConfigMap', async () =>
      core.readNamespacedConfigMap({ namespace, name: 'owned' }).then(
        () => undefined,
        (err) => (notFound(err) ? true : undefined),
      ),
    );
  });
});

afterAll(async () => {
  if (namespace) await core.deleteNamespace({ name: namespace }).catch(() => {});
});
