// The watch events that follow the operator's own writes wake nothing: one change of an
// ExternalSecret is one reconcile, although the sync it causes writes both the Secret and the
// resource's status (each comes back as a watch event). The poll is off, so that nothing but
// the change under test enqueues the resource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, eventually } from '../support/cluster.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  createExternalSecret,
  getExternalSecret,
  patchExternalSecret,
  readyOf,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
let secretId: string;

beforeAll(async () => {
  namespace = await createNamespace('es-echo');
  sm = await startTestEmulator({ namespace, seed: {}, storeSpec: { pollInterval: '0s' } });
  operator = await startOperator({ namespaces: [namespace], logLevel: 'debug' });
  await sm.waitReady();
  secretId = sm.emulator.createSecret({ type: 'arbitrary', name: 'echo', payload: 'v1' });
});

afterAll(async () => {
  await operator?.stop();
  await sm?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Reconciles of the resource that got past the store check (each logs "reconciling"). */
function reconciles(name: string): number {
  return operator
    .logLines()
    .filter((l) => l.msg === 'reconciling' && l.resource === `${namespace}/${name}`).length;
}

describe('echoes of our own writes', () => {
  it('one forced sync that writes the Secret and the status is one reconcile', async () => {
    await createExternalSecret(namespace, 'echo', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id: secretId } }],
    });
    await waitForSecret(namespace, 'echo', (d) => d.v === 'v1');
    await eventually('Ready', async () =>
      readyOf(await getExternalSecret(namespace, 'echo'))?.status === 'True' ? true : undefined,
    );
    await sleep(1_500);
    const before = reconciles('echo');

    sm.emulator.rotateSecret(secretId, { payload: 'v2' });
    await patchExternalSecret(namespace, 'echo', {
      metadata: { annotations: { 'secrets-manager.dev/force-sync': 'once' } },
    });
    await waitForSecret(namespace, 'echo', (d) => d.v === 'v2');
    await eventually('the forced sync recorded', async () => {
      const es = await getExternalSecret(namespace, 'echo');
      return (es?.status as { forceSyncValue?: string } | undefined)?.forceSyncValue === 'once'
        ? true
        : undefined;
    });
    // Time for the Secret's and the status's watch events to arrive and be acted on, if they were.
    await sleep(2_000);
    expect(reconciles('echo') - before).toBe(1);
  });
});
