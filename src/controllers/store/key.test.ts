import { describe, expect, it } from 'vitest';
import { rawStoreRef, refersTo } from './key.ts';

describe('rawStoreRef', () => {
  it('reads a storeRef as written, and says when there is none or it is not one', () => {
    const ref = { kind: 'SecretStore', name: 'sm' };
    expect(rawStoreRef({ spec: { storeRef: ref } })).toEqual(ref);
    expect(rawStoreRef({ spec: {} })).toBeUndefined();
    expect(rawStoreRef({})).toBeUndefined();
    expect(rawStoreRef({ spec: { storeRef: { kind: 'Vault', name: 'x' } } })).toBeNull();
    expect(rawStoreRef({ spec: { storeRef: { kind: 'SecretStore', name: 7 } } })).toBeNull();
  });

  it('points at the store refersTo matches, the default store when absent', () => {
    const absent = rawStoreRef({ spec: {} });
    expect(
      refersTo('ns', absent ?? undefined, { kind: 'ClusterSecretStore', name: 'default' }),
    ).toBe(true);
    const local = rawStoreRef({ spec: { storeRef: { kind: 'SecretStore', name: 'sm' } } });
    expect(
      refersTo('ns', local ?? undefined, { kind: 'SecretStore', name: 'sm', namespace: 'ns' }),
    ).toBe(true);
    expect(
      refersTo('ns', local ?? undefined, { kind: 'SecretStore', name: 'sm', namespace: 'o' }),
    ).toBe(false);
  });
});
