import { describe, expect, it } from 'vitest';
import { matchesLabelSelector, namespaceAllowed } from './selector.ts';

describe('matchesLabelSelector', () => {
  const labels = { team: 'payments', env: 'prod' };

  it('matches everything when empty', () => {
    expect(matchesLabelSelector({}, labels)).toBe(true);
    expect(matchesLabelSelector({}, undefined)).toBe(true);
  });

  it('requires every matchLabels entry', () => {
    expect(matchesLabelSelector({ matchLabels: { team: 'payments' } }, labels)).toBe(true);
    expect(matchesLabelSelector({ matchLabels: { team: 'payments', env: 'dev' } }, labels)).toBe(
      false,
    );
  });

  it.each([
    [{ key: 'env', operator: 'In' as const, values: ['prod', 'staging'] }, true],
    [{ key: 'env', operator: 'In' as const, values: ['dev'] }, false],
    [{ key: 'missing', operator: 'In' as const, values: ['x'] }, false],
    [{ key: 'env', operator: 'NotIn' as const, values: ['dev'] }, true],
    [{ key: 'env', operator: 'NotIn' as const, values: ['prod'] }, false],
    [{ key: 'missing', operator: 'NotIn' as const, values: ['x'] }, true],
    [{ key: 'team', operator: 'Exists' as const }, true],
    [{ key: 'missing', operator: 'Exists' as const }, false],
    [{ key: 'missing', operator: 'DoesNotExist' as const }, true],
    [{ key: 'team', operator: 'DoesNotExist' as const }, false],
  ])('evaluates %j as %s', (requirement, expected) => {
    expect(matchesLabelSelector({ matchExpressions: [requirement] }, labels)).toBe(expected);
  });
});

describe('namespaceAllowed', () => {
  const payments = { name: 'payments', labels: { team: 'payments' } };
  const other = { name: 'other', labels: { team: 'other' } };

  it('admits every namespace when the store has no conditions', () => {
    expect(namespaceAllowed(undefined, other)).toBe(true);
    expect(namespaceAllowed([], other)).toBe(true);
  });

  it('admits by name or by selector, and nothing else', () => {
    const byName = [{ namespaces: ['payments'] }];
    const bySelector = [{ namespaceSelector: { matchLabels: { team: 'payments' } } }];
    expect(namespaceAllowed(byName, payments)).toBe(true);
    expect(namespaceAllowed(byName, other)).toBe(false);
    expect(namespaceAllowed(bySelector, payments)).toBe(true);
    expect(namespaceAllowed(bySelector, other)).toBe(false);
    expect(namespaceAllowed([...byName, ...bySelector], { name: 'payments', labels: {} })).toBe(
      true,
    );
  });
});
