import { describe, expect, it } from 'vitest';
import {
  applySecret,
  decodeData,
  encodeData,
  HASH_PREFIX,
  hashData,
  type SecretsApi,
} from './secrets.ts';

const key = Buffer.from('k'.repeat(32));

describe('hashData', () => {
  it('depends on every key and value, not on their order', () => {
    const a = hashData({ x: '1', y: '2' }, key);
    expect(a.startsWith(HASH_PREFIX)).toBe(true);
    expect(hashData({ y: '2', x: '1' }, key)).toBe(a);
    expect(hashData({ x: '1', y: '3' }, key)).not.toBe(a);
    expect(hashData({ x: '1' }, key)).not.toBe(a);
  });

  it('cannot be confused by moving text between keys and values', () => {
    expect(hashData({ ab: 'c' }, key)).not.toBe(hashData({ a: 'bc' }, key));
  });

  it('is keyed: another installation gets another digest for the same data', () => {
    expect(hashData({ pin: '1234' }, key)).not.toBe(
      hashData({ pin: '1234' }, Buffer.from('other')),
    );
  });
});

describe('applySecret', () => {
  it('server-side applies with force, our field manager, the managed-by label and an owner', async () => {
    const calls: unknown[][] = [];
    const api = {
      patchNamespacedSecret: async (...args: unknown[]) => {
        calls.push(args);
        return {};
      },
    } as unknown as SecretsApi;
    await applySecret(api, {
      namespace: 'ns',
      name: 's',
      data: { a: 'é' },
      type: 'Opaque',
      labels: { app: 'web' },
      owner: {
        apiVersion: 'secrets-manager.dev/v1alpha1',
        kind: 'ExternalSecret',
        name: 'es',
        uid: 'u1',
      },
    });
    const [request, options, answer] = calls[0] as [Record<string, unknown>, unknown, unknown];
    // The answer is the metadata only: the values written do not come back into memory.
    expect(answer).toBe('metadata');
    expect(request).toMatchObject({
      name: 's',
      namespace: 'ns',
      fieldManager: 'secrets-manager-operator',
      force: true,
    });
    expect(request.body).toMatchObject({
      metadata: {
        labels: { app: 'web', 'secrets-manager.dev/managed-by': 'secrets-manager-operator' },
        ownerReferences: [{ kind: 'ExternalSecret', name: 'es', uid: 'u1', controller: true }],
      },
      data: { a: Buffer.from('é').toString('base64') },
      type: 'Opaque',
    });
    expect(options).toBeDefined();
    expect(decodeData(encodeData({ a: 'é' }))).toEqual({ a: 'é' });
  });
});
