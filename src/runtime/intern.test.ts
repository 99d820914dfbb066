import { describe, expect, it } from 'vitest';
import { intern, internAny, internedCount, resourceId } from './intern.ts';

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
});
