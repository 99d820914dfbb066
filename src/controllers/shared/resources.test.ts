import { describe, expect, it } from 'vitest';
import { PatchType } from '../../runtime/kubeapi.ts';
import { type CustomObjectsPatchApi, CustomResources } from './resources.ts';

describe('CustomResources.patchStatus', () => {
  it('merge-patches the status subresource and asks for the metadata only as the answer', async () => {
    const calls: unknown[][] = [];
    const record = async (...args: unknown[]) => {
      calls.push(args);
      return { metadata: { resourceVersion: '7' } };
    };
    const api = {
      patchNamespacedCustomObjectStatus: record,
      patchClusterCustomObjectStatus: record,
    } as unknown as CustomObjectsPatchApi;
    const resources = new CustomResources(api);
    await resources.patchStatus(
      { kind: 'ExternalSecret', namespace: 'ns', name: 'db' },
      { a: 1 },
      '6',
    );
    await resources.patchStatus({ kind: 'ClusterSecretStore', name: 'global' }, { b: 2 });
    expect(calls).toEqual([
      [
        expect.objectContaining({
          namespace: 'ns',
          name: 'db',
          body: { metadata: { resourceVersion: '6' }, status: { a: 1 } },
        }),
        PatchType.Merge,
        'metadata',
      ],
      [
        expect.objectContaining({ name: 'global', body: { status: { b: 2 } } }),
        PatchType.Merge,
        'metadata',
      ],
    ]);
  });
});
