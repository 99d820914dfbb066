// The store's shared view on the real API server and the emulator: many ExternalSecrets that
// reference one secret (by ID and by name) cost one value read; a rotation reaches all of them
// through the list poll with one read; an operator restart with nothing changed remotely reads
// no value and writes no Secret, and a rotation made while it was down is found by the lists.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requestKinds } from '../../../src/emulator/index.ts';
import { createNamespace, eventually } from '../support/cluster.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  createExternalSecret,
  getExternalSecret,
  getSecret,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

const N = 12;
let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
let sharedId: string;
let quietId: string;

beforeAll(async () => {
  namespace = await createNamespace('es-view');
  sm = await startTestEmulator({ namespace, seed: {}, storeSpec: { pollInterval: '5s' } });
  operator = await startOperator({ namespaces: [namespace], logLevel: 'info' });
  await sm.waitReady();
  sharedId = sm.emulator.createSecret({ type: 'arbitrary', name: 'shared', payload: 'v1' });
  quietId = sm.emulator.createSecret({ type: 'arbitrary', name: 'quiet', payload: 'q1' });
});

afterAll(async () => {
  await operator?.stop();
  await sm?.stop();
});

const reads = () => requestKinds(sm.emulator.counters());

function esName(i: number): string {
  return `uses-shared-${i}`;
}

async function resourceVersions(): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < N; i++) {
    out.push((await getSecret(namespace, esName(i)))?.metadata?.resourceVersion ?? '');
  }
  out.push((await getSecret(namespace, 'uses-quiet'))?.metadata?.resourceVersion ?? '');
  return out;
}

describe('the store view', () => {
  it('reads a secret that N ExternalSecrets reference (by ID and by name) once', async () => {
    sm.emulator.resetCounters();
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        createExternalSecret(namespace, esName(i), {
          storeRef: sm.storeRef,
          refreshInterval: '1h',
          data: [
            {
              secretKey: 'v',
              remoteRef:
                i % 2 === 0
                  ? { type: 'arbitrary', id: sharedId }
                  : { type: 'arbitrary', name: 'shared' },
            },
          ],
        }),
      ),
    );
    await createExternalSecret(namespace, 'uses-quiet', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      data: [{ secretKey: 'v', remoteRef: { type: 'arbitrary', id: quietId } }],
    });
    for (let i = 0; i < N; i++) await waitForSecret(namespace, esName(i), (d) => d.v === 'v1');
    await waitForSecret(namespace, 'uses-quiet', (d) => d.v === 'q1');
    // One read per unique secret (shared and quiet), whatever the number of resources.
    expect(reads().valueReads).toBe(2);
    const es = await waitForReason(namespace, esName(1), 'Synced');
    expect(es.status).toMatchObject({
      sources: [{ type: 'arbitrary', id: sharedId, lastUpdateDate: expect.any(String) }],
    });
  });

  it('brings a rotation to every resource through the list poll, with one value read', async () => {
    const before = await resourceVersions();
    // last_update_date has one-second resolution: rotate in a later second than the first read.
    await new Promise((r) => setTimeout(r, 1_100));
    sm.emulator.resetCounters();
    sm.emulator.rotateSecret(sharedId, { payload: 'v2' });
    for (let i = 0; i < N; i++) {
      await waitForSecret(namespace, esName(i), (d) => d.v === 'v2', 20_000);
    }
    const counted = reads();
    expect(counted.valueReads).toBe(1);
    expect(counted.lists).toBeGreaterThanOrEqual(1);
    // The resource on the secret that did not change was not written.
    const after = await resourceVersions();
    expect(after.at(-1)).toBe(before.at(-1));
  });

  it('after a restart with nothing changed, reads no value and writes no Secret', async () => {
    await operator.stop();
    const before = await resourceVersions();
    sm.emulator.resetCounters();
    operator = await startOperator({ namespaces: [namespace], logLevel: 'info' });
    // The first poll of the new process lists what the resources recorded.
    await eventually('a list call of the restarted operator', async () =>
      reads().lists > 0 ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 2_000));
    expect(reads().valueReads).toBe(0);
    expect(await resourceVersions()).toEqual(before);
  });

  it('finds a rotation made while the operator was down, with one value read', async () => {
    await operator.stop();
    await new Promise((r) => setTimeout(r, 1_100));
    sm.emulator.rotateSecret(sharedId, { payload: 'v3' });
    const before = await resourceVersions();
    sm.emulator.resetCounters();
    operator = await startOperator({ namespaces: [namespace], logLevel: 'info' });
    for (let i = 0; i < N; i++) {
      await waitForSecret(namespace, esName(i), (d) => d.v === 'v3', 20_000);
    }
    expect(reads().valueReads).toBe(1);
    expect((await resourceVersions()).at(-1)).toBe(before.at(-1));
    const es = await getExternalSecret(namespace, esName(0));
    expect(es?.status).toMatchObject({ sources: [{ id: sharedId }] });
  });
});
