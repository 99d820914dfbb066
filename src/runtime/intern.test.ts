import { describe, expect, it } from 'vitest';
import { intern, internAny, internedCount, resourceId, shareFlat } from './intern.ts';

describe('intern', () => {
  it('holds one entry per distinct string and returns an equal string', () => {
    const before = internedCount();
    const a = intern(`intern-test-${'x'.repeat(3)}`);
    const b = intern(['intern', 'test', 'xxx'].join('-'));
    expect(a).toBe('intern-test-xxx');
    expect(b).toBe(a);
    expect(internedCount()).toBe(before + 1);
  });

  it('leaves values that are not strings alone', () => {
    const obj = { a: 1 };
    expect(internAny(obj)).toBe(obj);
    expect(internAny(undefined)).toBeUndefined();
    expect(internAny(7)).toBe(7);
  });

  it('stays bounded: a full table starts over', () => {
    for (let i = 0; i < 70_000; i++) intern(`bounded-${i}`);
    expect(internedCount()).toBeLessThanOrEqual(65_536);
    expect(internedCount()).toBeGreaterThan(0);
  });

  it('keys a resource as namespace/name, /name without a namespace', () => {
    expect(resourceId({ namespace: 'team', name: 'db' })).toBe('team/db');
    expect(resourceId({ name: 'global' })).toBe('/global');
  });

  it('shares flat objects of equal content and order, frozen, and leaves the rest alone', () => {
    const first = shareFlat({ id: 'share-test', type: 'arbitrary', n: 1, ok: true });
    const second = shareFlat({ id: 'share-test', type: 'arbitrary', n: 1, ok: true });
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    // Another value or another order is another object.
    expect(shareFlat({ id: 'share-test', type: 'kv', n: 1, ok: true })).not.toBe(first);
    expect(shareFlat({ type: 'arbitrary', id: 'share-test', n: 1, ok: true })).not.toBe(first);
    // Nested, empty and array values are returned as they are, not frozen; so are objects whose
    // key would lose a value (an undefined property, NaN), which would share with another.
    const withUndefined = { id: 'share-test', type: 'arbitrary', n: 1, ok: true, group: undefined };
    for (const other of [{ a: { b: 1 } }, {}, ['x'], withUndefined, { n: Number.NaN }]) {
      expect(shareFlat(other)).toBe(other);
      expect(Object.isFrozen(other)).toBe(false);
    }
    expect(shareFlat(undefined)).toBeUndefined();
  });
});
