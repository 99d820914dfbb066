import { describe, expect, it } from 'vitest';
import { internedCount } from '../../runtime/intern.ts';
import { compactExternalSecret } from './compact.ts';

const resource = () => ({
  apiVersion: 'secrets-manager.dev/v1alpha1',
  kind: 'ExternalSecret',
  metadata: { name: 'db', namespace: 'team' },
  spec: {
    refreshInterval: '1h',
    storeRef: { kind: 'SecretStore', name: 'sm' },
    target: { name: 'db-secret' },
    data: [
      { secretKey: 'user', remoteRef: { id: 'compact-test-id-1', type: 'username_password' } },
      { secretKey: 'pass', remoteRef: { name: 'db', group: 'g', property: 'password' } },
    ],
  },
  status: {
    refreshTime: '2026-11-27T08:00:00Z',
    syncedDataHash: 'hmac-sha256:compact-test',
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Synced',
        message: '2 keys',
        lastTransitionTime: 'x',
      },
    ],
    sources: [{ type: 'arbitrary', id: 'compact-test-id-2', lastUpdateDate: 'y' }],
  },
});

describe('compactExternalSecret', () => {
  it('changes no value and interns the repeated strings', () => {
    const before = internedCount();
    const obj = resource();
    expect(compactExternalSecret(obj)).toEqual(resource());
    expect(internedCount()).toBeGreaterThan(before);
    const again = internedCount();
    compactExternalSecret(resource());
    expect(internedCount()).toBe(again);
  });

  it('interns the secret IDs of spec.data and spec.dataFrom[].extract', () => {
    compactExternalSecret(resource()); // the fixture's strings are known from here on
    const before = internedCount();
    const obj = {
      ...resource(),
      spec: {
        ...resource().spec,
        data: [{ secretKey: 'a', remoteRef: { id: 'compact-test-data-id', type: 'arbitrary' } }],
        dataFrom: [{ extract: { id: 'compact-test-extract-id', type: 'arbitrary' } }],
      },
    };
    compactExternalSecret(obj);
    // The two IDs, and the type 'arbitrary', which the fixture's status already interned.
    expect(internedCount()).toBe(before + 2);
  });

  it('gives resources that repeat a small object one frozen copy of it', () => {
    const [a, b] = [compactExternalSecret(resource()), compactExternalSecret(resource())];
    expect(b.spec.storeRef).toBe(a.spec.storeRef);
    expect(b.spec.target).toBe(a.spec.target);
    expect(b.spec.data[0]?.remoteRef).toBe(a.spec.data[0]?.remoteRef);
    expect(b.status.sources[0]).toBe(a.status.sources[0]);
    expect(Object.isFrozen(a.spec.data[1]?.remoteRef)).toBe(true);
    expect(() => {
      (a.spec.storeRef as { name: string }).name = 'other';
    }).toThrow(TypeError);
    // The objects that hold them stay each resource's own, and differing content is not shared.
    expect(b.spec.data).not.toBe(a.spec.data);
    const other = resource();
    other.spec.data[0] = {
      secretKey: 'user',
      remoteRef: { id: 'compact-test-id-3', type: 'arbitrary' },
    };
    expect(compactExternalSecret(other).spec.data[0]?.remoteRef).not.toBe(
      a.spec.data[0]?.remoteRef,
    );
    expect(compactExternalSecret(other).spec.data[0]?.remoteRef).toEqual(
      other.spec.data[0]?.remoteRef,
    );
  });

  it('takes any shape without throwing (invalid resources are cached too)', () => {
    const odd = [
      {},
      { spec: null, status: 'x' },
      { spec: { data: 'x', storeRef: [] } },
      { spec: { data: [null, 1, { remoteRef: 5 }] }, status: { conditions: {}, sources: [1] } },
      { spec: { storeRef: { kind: 7 } } },
    ];
    for (const obj of odd) {
      const copy = structuredClone(obj);
      expect(compactExternalSecret(obj)).toEqual(copy);
    }
  });
});
