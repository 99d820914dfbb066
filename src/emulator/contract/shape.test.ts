import { describe, expect, it } from 'vitest';
import { shapeDiff } from './shape.ts';

describe('shapeDiff', () => {
  it('accepts the same fields and types with different values', () => {
    expect(
      shapeDiff({ a: 1, b: ['x'], c: { d: null } }, { a: 2, b: ['y', 'z'], c: { d: null } }),
    ).toEqual([]);
  });

  it('reports missing, extra and mistyped fields with their paths', () => {
    expect(shapeDiff({ a: 1, b: { c: 'x' } }, { b: { c: 1 }, e: true })).toEqual([
      '$.a: missing',
      '$.b.c: expected string, got number',
      '$.e: not in the documented example',
    ]);
  });

  it('checks every array element against the documented one, and allows listed extras', () => {
    const expected = { items: [{ id: 'a' }] };
    const actual = { items: [{ id: 'a' }, { id: 'b', extra: 1 }] };
    expect(shapeDiff(expected, actual)).toEqual([
      '$.items[1].extra: not in the documented example',
    ]);
    expect(shapeDiff(expected, actual, new Set(['$.items[].extra']))).toEqual([]);
  });
});
