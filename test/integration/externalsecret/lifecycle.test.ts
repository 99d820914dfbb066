// The target Secret's life: creationPolicy Owner, Merge and Orphan, deletionPolicy on remote
// deletion and on deletion of the ExternalSecret, a Secret deleted by hand, a renamed target,
// and a Secret that belongs to someone else.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import {
  core,
  createExternalSecret,
  decoded,
  deleteExternalSecret,
  getExternalSecret,
  getSecret,
  patchExternalSecret,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
let forced = 0;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-life'));
});

afterAll(() => stopFixture(operator, sm));

function spec(rest: Record<string, unknown>): Record<string, unknown> {
  return { storeRef: sm.storeRef, refreshInterval: '1h', ...rest };
}

const dbUrl = [{ secretKey: 'url', remoteRef: { type: 'arbitrary', name: SEED.databaseUrl.name } }];

/** Asks for a sync now (the force-sync annotation) and waits until it happened. */
async function forceSync(name: string): Promise<void> {
  // The operator writes a Secret before the status that records it: until the status of the
  // current generation is in, the refreshTime read here could still be about to change.
  const settled = await eventually(`the status of ${name}`, async () => {
    const es = await getExternalSecret(namespace, name);
    return readyOf(es)?.observedGeneration === es?.metadata.generation ? es : undefined;
  });
  const before = settled.status?.refreshTime;
  const value = String(++forced);
  await patchExternalSecret(namespace, name, {
    metadata: { annotations: { 'secrets-manager.dev/force-sync': value } },
  });
  await eventually(`a forced sync of ${name}`, async () => {
    const es = await getExternalSecret(namespace, name);
    const status = es?.status as { forceSyncValue?: string } | undefined;
    const ready = readyOf(es);
    // Either a sync (forceSyncValue recorded) or a failure reported after the patch.
    return status?.forceSyncValue === value ||
      (ready?.status === 'False' &&
        es?.status?.refreshTime === before &&
        ready.observedGeneration === es?.metadata.generation &&
        ready.reason !== 'Synced')
      ? es
      : undefined;
  });
}

describe('creationPolicy Owner', () => {
  it('brings back a Secret deleted by hand, and the Secret goes with the ExternalSecret', async () => {
    await createExternalSecret(namespace, 'owned', spec({ data: dbUrl }));
    const first = await waitForSecret(namespace, 'owned');
    await core.deleteNamespacedSecret({ namespace, name: 'owned' });
    const back = await waitForSecret(
      namespace,
      'owned',
      (_d, s) => s.metadata?.uid !== first.metadata?.uid,
    );
    expect(decoded(back).url).toBe(SEED.databaseUrlValue);

    await deleteExternalSecret(namespace, 'owned');
    await eventually('garbage collection of the owned Secret', async () =>
      (await getSecret(namespace, 'owned')) === undefined ? true : undefined,
    );
  });

  it('leaves a Secret it did not create alone and reports TargetConflict', async () => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'someone-elses' }, stringData: { mine: 'yes' } },
    });
    await createExternalSecret(
      namespace,
      'conflict',
      spec({ target: { name: 'someone-elses' }, data: dbUrl }),
    );
    const es = await waitForReason(namespace, 'conflict', 'TargetConflict');
    expect(readyOf(es)?.message).toContain('not created by this operator');
    expect(decoded(await getSecret(namespace, 'someone-elses'))).toEqual({ mine: 'yes' });
  });

  it('moves to a renamed target and deletes the Secret under the old name', async () => {
    await createExternalSecret(
      namespace,
      'rename',
      spec({ target: { name: 'old-name' }, data: dbUrl }),
    );
    await waitForSecret(namespace, 'old-name');
    await patchExternalSecret(namespace, 'rename', { spec: { target: { name: 'new-name' } } });
    await waitForSecret(namespace, 'new-name');
    await eventually('the old Secret to go', async () =>
      (await getSecret(namespace, 'old-name')) === undefined ? true : undefined,
    );
  });
});

describe('creationPolicy Merge', () => {
  it('adds only its keys to an existing Secret, waits for one that does not exist, and with deletionPolicy Delete takes its keys back on deletion', async () => {
    await createExternalSecret(
      namespace,
      'merge',
      spec({
        target: { name: 'shared', creationPolicy: 'Merge', deletionPolicy: 'Delete' },
        data: dbUrl,
      }),
    );
    const waiting = await waitForReason(namespace, 'merge', 'SyncError');
    expect(readyOf(waiting)?.message).toContain('creationPolicy Merge');
    expect(waiting.metadata.finalizers).toContain('secrets-manager.dev/externalsecret');
    expect(await getSecret(namespace, 'shared')).toBeUndefined();

    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'shared' }, type: 'Opaque', stringData: { theirs: 'keep-me' } },
    });
    await forceSync('merge');
    const merged = await waitForSecret(namespace, 'shared', (d) => d.url !== undefined);
    expect(decoded(merged)).toEqual({ theirs: 'keep-me', url: SEED.databaseUrlValue });
    expect(merged.metadata?.ownerReferences ?? []).toEqual([]);

    await deleteExternalSecret(namespace, 'merge');
    const after = await waitForSecret(namespace, 'shared', (d) => d.url === undefined);
    expect(decoded(after)).toEqual({ theirs: 'keep-me' });
    await eventually('the ExternalSecret to be gone', async () =>
      (await getExternalSecret(namespace, 'merge')) === undefined ? true : undefined,
    );
  });
});

describe('creationPolicy Orphan', () => {
  it('keeps the Secret after the ExternalSecret is deleted (Retain), without an owner', async () => {
    await createExternalSecret(
      namespace,
      'orphan-retain',
      spec({ target: { creationPolicy: 'Orphan' }, data: dbUrl }),
    );
    const secret = await waitForSecret(namespace, 'orphan-retain');
    expect(secret.metadata?.ownerReferences ?? []).toEqual([]);
    const es = await getExternalSecret(namespace, 'orphan-retain');
    expect(es?.metadata.finalizers ?? []).toEqual([]);
    await deleteExternalSecret(namespace, 'orphan-retain');
    await eventually('the ExternalSecret to be gone', async () =>
      (await getExternalSecret(namespace, 'orphan-retain')) === undefined ? true : undefined,
    );
    expect(decoded(await getSecret(namespace, 'orphan-retain')).url).toBe(SEED.databaseUrlValue);
  });

  it('deletes the Secret with the ExternalSecret when deletionPolicy is Delete (finalizer)', async () => {
    await createExternalSecret(
      namespace,
      'orphan-delete',
      spec({ target: { creationPolicy: 'Orphan', deletionPolicy: 'Delete' }, data: dbUrl }),
    );
    await waitForSecret(namespace, 'orphan-delete');
    await eventually('the finalizer', async () =>
      (await getExternalSecret(namespace, 'orphan-delete'))?.metadata.finalizers?.includes(
        'secrets-manager.dev/externalsecret',
      )
        ? true
        : undefined,
    );
    await deleteExternalSecret(namespace, 'orphan-delete');
    await eventually('the Secret and the ExternalSecret to be gone', async () =>
      (await getSecret(namespace, 'orphan-delete')) === undefined &&
      (await getExternalSecret(namespace, 'orphan-delete')) === undefined
        ? true
        : undefined,
    );
  });
});

describe('a remote secret deleted in Secrets Manager', () => {
  it('is reported and the Secret kept with deletionPolicy Retain', async () => {
    const id = sm.emulator.createSecret({ type: 'arbitrary', name: 'goes-away-1', payload: 'v1' });
    await createExternalSecret(
      namespace,
      'gone-retain',
      spec({ data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }] }),
    );
    const before = await waitForSecret(namespace, 'gone-retain');
    sm.emulator.deleteSecret(id);
    await forceSync('gone-retain');
    const es = await waitForReason(namespace, 'gone-retain', 'RemoteSecretNotFound');
    expect(readyOf(es)?.message).toContain('keeps its last data');
    const after = await getSecret(namespace, 'gone-retain');
    expect(after?.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(decoded(after)).toEqual({ v: 'v1' });
  });

  it('deletes the Secret with deletionPolicy Delete', async () => {
    const id = sm.emulator.createSecret({ type: 'arbitrary', name: 'goes-away-2', payload: 'v1' });
    await createExternalSecret(
      namespace,
      'gone-delete',
      spec({
        target: { deletionPolicy: 'Delete' },
        data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id } }],
      }),
    );
    await waitForSecret(namespace, 'gone-delete');
    sm.emulator.deleteSecret(id);
    await forceSync('gone-delete');
    const es = await waitForReason(namespace, 'gone-delete', 'RemoteSecretNotFound');
    expect(readyOf(es)?.message).toContain('deleted Secret gone-delete');
    expect(await getSecret(namespace, 'gone-delete')).toBeUndefined();
  });
});
