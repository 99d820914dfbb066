// The create-only apply of a target Secret (applySecret with `createOnly`) against the real API
// server: it creates a Secret that does not exist, owning its fields as an apply does (so a
// later apply that drops a key removes it), and is refused with 409 when one exists, ours or
// someone else's, leaving it untouched. A first sync of a new ExternalSecret relies on both.
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIELD_MANAGER } from '../../../src/controllers/shared/constants.ts';
import { applySecret, decodeData } from '../../../src/controllers/shared/secrets.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import { createNamespace, kubeConfig, operatorKube } from '../support/cluster.ts';

const kube = operatorKube();
// client-node's client for reads: the operator's own cuts managedFields out of what it reads.
const core = kubeConfig().makeApiClient(CoreV1Api);
let namespace: string;

beforeAll(async () => {
  namespace = await createNamespace('create-only');
});

afterAll(async () => {
  await core.deleteNamespace({ name: namespace }).catch(() => {});
});

const read = (name: string) => core.readNamespacedSecret({ namespace, name });

describe('applySecret createOnly', () => {
  it('creates a missing Secret, owned by our apply: a later apply without a key removes it', async () => {
    await applySecret(kube.core, {
      namespace,
      name: 'fresh',
      data: { a: 'one', b: 'two' },
      createOnly: true,
    });
    const created = await read('fresh');
    expect(decodeData(created.data)).toEqual({ a: 'one', b: 'two' });
    const ours = (created.metadata?.managedFields ?? []).filter((m) => m.manager === FIELD_MANAGER);
    expect(ours.map((m) => m.operation)).toEqual(['Apply']);

    await applySecret(kube.core, { namespace, name: 'fresh', data: { a: 'one' } });
    expect(decodeData((await read('fresh')).data)).toEqual({ a: 'one' });
  });

  it('is refused with 409 when the Secret exists, whoever wrote it, and changes nothing', async () => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'theirs' }, stringData: { k: 'mine' } },
    });
    await applySecret(kube.core, { namespace, name: 'ours', data: { k: 'v1' } });
    for (const name of ['theirs', 'ours']) {
      const before = await read(name);
      const err = await applySecret(kube.core, {
        namespace,
        name,
        data: { k: 'other' },
        createOnly: true,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isApiError(err, 409), `${name}: ${String(err)}`).toBe(true);
      const after = await read(name);
      expect(after.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
      expect(after.data).toEqual(before.data);
    }
  });
});
