// The fakes must behave as the API server does where the controllers depend on it.
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../runtime/informer.ts';
import { isApiError } from '../../../runtime/kube.ts';
import { applySecret, decodeData, deleteSecretIfOwned, readSecret } from '../secrets.ts';
import { FakeInformer } from './informer.ts';
import { FakeResources, FakeSecrets } from './kube.ts';

describe('FakeSecrets', () => {
  it('apply removes the keys this manager sent before and keeps everyone else’s', async () => {
    const core = new FakeSecrets();
    core.put({ metadata: { name: 's', namespace: 'ns' }, data: { theirs: 'dA==' } });
    await applySecret(core, { namespace: 'ns', name: 's', data: { a: '1', b: '2' } });
    const first = core.get('ns', 's');
    await applySecret(core, { namespace: 'ns', name: 's', data: { a: '3' } });
    const second = core.get('ns', 's');
    expect(decodeData(second?.data)).toEqual({ theirs: 't', a: '3' });
    expect(Number(second?.metadata?.resourceVersion)).toBeGreaterThan(
      Number(first?.metadata?.resourceVersion),
    );
    expect(second?.metadata?.uid).toBe(first?.metadata?.uid);
  });

  it('answers a missing Secret with a 404 isApiError recognises', async () => {
    const core = new FakeSecrets();
    await expect(core.readNamespacedSecret({ namespace: 'ns', name: 'x' })).rejects.toSatisfy(
      (err: unknown) => isApiError(err, 404),
    );
    expect(await readSecret(core, 'ns', 'x')).toBeUndefined();
  });

  it('deletes only with a matching uid precondition, and keeps the informer in step', async () => {
    const informer = new FakeInformer();
    const core = new FakeSecrets().mirror(informer);
    await applySecret(core, { namespace: 'ns', name: 's', data: { a: '1' } });
    expect(informer.get('ns', 's')?.metadata.name).toBe('s');
    expect(informer.get('ns', 's')).not.toHaveProperty('data');
    await expect(
      core.deleteNamespacedSecret({
        namespace: 'ns',
        name: 's',
        body: { preconditions: { uid: 'other' } },
      }),
    ).rejects.toSatisfy((err: unknown) => isApiError(err, 409));
    expect(await deleteSecretIfOwned(core, 'ns', 's')).toBe(true);
    expect(core.get('ns', 's')).toBeUndefined();
    expect(informer.get('ns', 's')).toBeUndefined();
  });
});

describe('FakeResources', () => {
  const ref = { kind: 'ExternalSecret', namespace: 'ns', name: 'es' } as const;

  it('merge-patches status recursively (null removes) and replaces it whole', async () => {
    const r = new FakeResources();
    r.put('ExternalSecret', {
      metadata: { name: 'es', namespace: 'ns' },
      status: { a: 1, n: { x: 1, y: 2 } },
    } as KubeObject);
    await r.patchStatus(ref, { a: null, n: { y: 3 } });
    expect(r.get('ExternalSecret', 'ns', 'es')).toMatchObject({ status: { n: { x: 1, y: 3 } } });
    expect(r.get('ExternalSecret', 'ns', 'es')).not.toHaveProperty('status.a');
    await r.replaceStatus(ref, { b: 2 });
    expect(r.get('ExternalSecret', 'ns', 'es')).toMatchObject({ status: { b: 2 } });
    expect(r.get('ExternalSecret', 'ns', 'es')).not.toHaveProperty('status.n');
  });

  it('guards finalizers with the resourceVersion and completes a deletion', async () => {
    const r = new FakeResources();
    const obj = r.put('ExternalSecret', { metadata: { name: 'es', namespace: 'ns' } });
    await expect(r.setFinalizers(ref, ['f'], 'stale')).rejects.toSatisfy((err: unknown) =>
      isApiError(err, 409),
    );
    await r.setFinalizers(ref, ['f'], obj.metadata.resourceVersion);
    r.delete('ExternalSecret', 'ns', 'es', '2026-01-01T00:00:00Z');
    expect(r.get('ExternalSecret', 'ns', 'es')?.metadata.deletionTimestamp).toBeDefined();
    await r.setFinalizers(ref, [], undefined);
    expect(r.get('ExternalSecret', 'ns', 'es')).toBeUndefined();
  });
});
