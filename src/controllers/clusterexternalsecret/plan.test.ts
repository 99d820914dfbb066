import { describe, expect, it } from 'vitest';
import { exampleClusterExternalSecret } from '../../api/examples.ts';
import { type ExternalSecretSpec, parseClusterExternalSecret } from '../../api/index.ts';
import {
  type ExistingExternalSecret,
  matchesTemplate,
  type NamespaceView,
  ownership,
  type PlanInput,
  planNamespaces,
  selects,
  templateOf,
} from './plan.ts';

const ns = (name: string, labels: Record<string, string> = {}, terminating = false) =>
  ({ name, labels, terminating }) satisfies NamespaceView;

const es = (namespace: string, overrides: Partial<ExistingExternalSecret> = {}) =>
  ({
    namespace,
    name: 'registry',
    ours: true,
    staleOwner: false,
    terminating: false,
    upToDate: true,
    ...overrides,
  }) satisfies ExistingExternalSecret;

function plan(input: Partial<PlanInput>) {
  return planNamespaces({
    spec: { namespaceSelectors: [{ matchLabels: { team: 'a' } }] },
    externalSecretName: 'registry',
    namespaces: [],
    existing: [],
    admit: () => undefined,
    ...input,
  });
}

describe('selects', () => {
  const spec = {
    namespaces: ['ci'],
    namespaceSelectors: [
      { matchLabels: { team: 'payments' } },
      { matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['prod'] }] },
    ],
  };
  it.each([
    ['listed by name', ns('ci'), true],
    ['matching the first selector', ns('p', { team: 'payments' }), true],
    ['matching the second selector', ns('q', { env: 'prod' }), true],
    ['matching none', ns('r', { team: 'billing', env: 'dev' }), false],
    ['without labels', ns('s'), false],
  ])('a namespace %s: %s', (_name, namespace, expected) => {
    expect(selects(spec, namespace)).toBe(expected);
  });

  it('an empty selector selects every namespace', () => {
    expect(selects({ namespaceSelectors: [{}] }, ns('anything'))).toBe(true);
  });
});

describe('planNamespaces', () => {
  it('creates in every selected namespace that has none, and only there', () => {
    const result = plan({
      namespaces: [ns('b', { team: 'a' }), ns('a', { team: 'a' }), ns('c', { team: 'x' })],
    });
    expect(result.create).toEqual(['a', 'b']);
    expect(result.remove).toEqual([]);
  });

  it('keeps an up-to-date one, updates a drifted one', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }), ns('b', { team: 'a' })],
      existing: [es('a'), es('b', { upToDate: false })],
    });
    expect(result.provisioned).toEqual(['a']);
    expect(result.update.map((e) => e.namespace)).toEqual(['b']);
    expect(result.create).toEqual([]);
  });

  it('deletes ours from a namespace no longer selected, and an old name after a rename', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }), ns('unlabelled')],
      existing: [es('a'), es('unlabelled'), es('a', { name: 'old-name' })],
    });
    expect(result.remove.map((e) => `${e.namespace}/${e.name}`)).toEqual([
      'unlabelled/registry',
      'a/old-name',
    ]);
    expect(result.provisioned).toEqual(['a']);
  });

  it('never touches one it does not own: the namespace fails as NotOwned', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }), ns('b')],
      existing: [es('a', { ours: false }), es('b', { ours: false })],
    });
    expect(result.create).toEqual([]);
    expect(result.update).toEqual([]);
    expect(result.remove).toEqual([]);
    expect(result.failed).toEqual([
      expect.objectContaining({ namespace: 'a', reason: 'NotOwned' }),
    ]);
  });

  it('creates nothing where the store forbids, reports it, and deletes what was there', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }), ns('b', { team: 'a' }), ns('c', { team: 'a' })],
      existing: [es('b')],
      admit: (namespace) => (namespace.name === 'a' ? undefined : 'not admitted'),
    });
    expect(result.create).toEqual(['a']);
    expect(result.remove.map((e) => e.namespace)).toEqual(['b']);
    expect(result.failed).toEqual([
      { namespace: 'b', reason: 'StoreForbidsNamespace', message: 'not admitted' },
      { namespace: 'c', reason: 'StoreForbidsNamespace', message: 'not admitted' },
    ]);
  });

  it('skips terminating namespaces: nothing created, nothing deleted, nothing failed', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }, true), ns('b', {}, true)],
      existing: [es('a'), es('b')],
    });
    expect(result).toEqual({
      create: [],
      update: [],
      remove: [],
      provisioned: [],
      waiting: [],
      failed: [],
    });
  });

  it('waits while an old one is being deleted or belongs to a deleted ClusterExternalSecret', () => {
    const result = plan({
      namespaces: [ns('a', { team: 'a' }), ns('b', { team: 'a' })],
      existing: [es('a', { terminating: true }), es('b', { ours: false, staleOwner: true })],
    });
    expect(result.waiting).toEqual(['a', 'b']);
    expect(result.create).toEqual([]);
    expect(result.failed).toEqual([]);
  });

  it('selects a listed namespace only once it exists', () => {
    const result = plan({ spec: { namespaces: ['later', 'now'] }, namespaces: [ns('now')] });
    expect(result.create).toEqual(['now']);
    expect(result.failed).toEqual([]);
  });
});

describe('the template', () => {
  const parsed = parseClusterExternalSecret(exampleClusterExternalSecret);
  if (!parsed.ok) throw new Error(parsed.message);
  const template = templateOf(parsed.value);

  it('labels each ExternalSecret with its ClusterExternalSecret, which the template cannot override', () => {
    const sneaky = structuredClone(parsed.value);
    sneaky.spec.externalSecretMetadata = {
      labels: { 'secrets-manager.dev/cluster-external-secret': 'someone-else' },
    };
    expect(templateOf(sneaky).labels).toEqual({
      'secrets-manager.dev/cluster-external-secret': 'registry-pull-secret',
    });
    expect(template.labels).toEqual({
      app: 'registry',
      'secrets-manager.dev/cluster-external-secret': 'registry-pull-secret',
    });
  });

  it('matches an ExternalSecret exactly as templated, and not one with an edit', () => {
    const spec = structuredClone(template.spec);
    const metadata = { labels: { ...template.labels }, annotations: { owner: 'platform' } };
    expect(matchesTemplate(template, spec, metadata)).toBe(true);
    const edited: ExternalSecretSpec = { ...spec, refreshInterval: '5m' };
    expect(matchesTemplate(template, edited, metadata)).toBe(false);
    expect(matchesTemplate(template, spec, { ...metadata, annotations: {} })).toBe(false);
    expect(
      matchesTemplate(template, spec, { ...metadata, labels: { ...metadata.labels, extra: 'x' } }),
    ).toBe(false);
    expect(matchesTemplate(template, undefined, metadata)).toBe(false);
  });
});

describe('ownership', () => {
  const ces = { name: 'registry', uid: 'uid-1' };
  it.each([
    [
      'our controller reference',
      [{ kind: 'ClusterExternalSecret', name: 'registry', uid: 'uid-1', controller: true }],
      true,
      false,
    ],
    [
      'a deleted namesake',
      [{ kind: 'ClusterExternalSecret', name: 'registry', uid: 'uid-0', controller: true }],
      false,
      true,
    ],
    [
      'a reference that is not the controller',
      [{ kind: 'ClusterExternalSecret', name: 'registry', uid: 'uid-1' }],
      false,
      false,
    ],
    [
      'another kind',
      [{ kind: 'Deployment', name: 'registry', uid: 'uid-1', controller: true }],
      false,
      false,
    ],
    ['no owner', [], false, false],
  ])('%s', (_name, refs, ours, staleOwner) => {
    expect(ownership(refs, ces)).toEqual({ ours, staleOwner });
  });
});
