// decodingStrategy: a keystore kept base64-encoded in Secrets Manager lands in the Secret as its
// exact bytes (every byte value, through a rotation); a value not in the declared encoding is
// refused with a reason that does not quote it, and nothing is written.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, eventually } from '../support/cluster.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import {
  createExternalSecret,
  getSecret,
  readyOf,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  namespace = await createNamespace('es-binary');
  sm = await startTestEmulator({ namespace, seed: {} });
  operator = await startOperator({ namespaces: [namespace] });
  await sm.waitReady();
});

afterAll(async () => {
  await operator?.stop();
  await sm?.stop();
});

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
const bytesOf = async (name: string, key: string) =>
  Buffer.from((await getSecret(namespace, name))?.data?.[key] ?? '', 'base64');

describe('decodingStrategy', () => {
  it('writes the decoded bytes exactly, and follows a rotation', async () => {
    sm.emulator.createSecret({
      type: 'arbitrary',
      name: 'keystore',
      payload: ALL_BYTES.toString('base64'),
    });
    await createExternalSecret(namespace, 'keystore', {
      storeRef: sm.storeRef,
      refreshInterval: '5s',
      data: [
        {
          secretKey: 'keystore.p12',
          remoteRef: { type: 'arbitrary', name: 'keystore' },
          decodingStrategy: 'Base64',
        },
      ],
    });
    await waitForSecret(namespace, 'keystore');
    expect((await bytesOf('keystore', 'keystore.p12')).equals(ALL_BYTES)).toBe(true);

    const rotated = Buffer.from(ALL_BYTES).reverse();
    sm.emulator.rotateSecret('keystore', { payload: rotated.toString('base64') });
    await eventually('the rotated bytes in the Secret', async () =>
      (await bytesOf('keystore', 'keystore.p12')).equals(rotated) ? true : undefined,
    );
  });

  it('decodes every key of an extract with Auto, leaving text that is not base64 as it is', async () => {
    sm.emulator.createSecret({
      type: 'kv',
      name: 'bundle',
      payload: { cert: ALL_BYTES.toString('base64url'), note: 'plain text!' },
    });
    await createExternalSecret(namespace, 'bundle', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      dataFrom: [{ extract: { type: 'kv', name: 'bundle' }, decodingStrategy: 'Auto' }],
    });
    await waitForSecret(namespace, 'bundle');
    expect((await bytesOf('bundle', 'cert')).equals(ALL_BYTES)).toBe(true);
    expect((await bytesOf('bundle', 'note')).toString()).toBe('plain text!');
  });

  it('a value not in the declared encoding: SyncError naming the key, not the value; nothing written', async () => {
    sm.emulator.createSecret({ type: 'arbitrary', name: 'not-b64', payload: 'p@ss-w0rd!' });
    await createExternalSecret(namespace, 'not-b64', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      data: [
        {
          secretKey: 'password',
          remoteRef: { type: 'arbitrary', name: 'not-b64' },
          decodingStrategy: 'Base64',
        },
      ],
    });
    const es = await waitForReason(namespace, 'not-b64', 'SyncError');
    expect(readyOf(es)?.message).toContain('spec.data key password');
    expect(readyOf(es)?.message).toContain('not valid Base64');
    expect(readyOf(es)?.message).not.toContain('p@ss');
    expect(await getSecret(namespace, 'not-b64')).toBeUndefined();
  });
});
