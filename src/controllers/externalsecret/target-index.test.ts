import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../runtime/informer.ts';
import { TargetIndex } from './target-index.ts';

const es = (name: string, target?: string, namespace = 'team'): KubeObject => ({
  metadata: { name, namespace },
  spec: target === undefined ? {} : { target: { name: target } },
});

const names = (index: TargetIndex, namespace: string, secret: string) =>
  index
    .writersOf(namespace, secret)
    .map((k) => `${k.namespace}/${k.name}`)
    .sort();

describe('TargetIndex', () => {
  it('finds the writer by spec.target.name, or by the resource name when unset', () => {
    const index = new TargetIndex();
    index.add(es('a', 'db'));
    index.add(es('b'));
    expect(names(index, 'team', 'db')).toEqual(['team/a']);
    expect(names(index, 'team', 'b')).toEqual(['team/b']);
    expect(names(index, 'team', 'a')).toEqual([]);
    expect(names(index, 'other', 'db')).toEqual([]);
  });

  it('keeps every writer of a shared Secret, and the rest when one goes', () => {
    const index = new TargetIndex();
    index.add(es('a', 'db'));
    index.add(es('b', 'db'));
    index.add(es('c', 'db'));
    index.add(es('a', 'db', 'other'));
    expect(names(index, 'team', 'db')).toEqual(['team/a', 'team/b', 'team/c']);
    index.delete(es('b', 'db'));
    expect(names(index, 'team', 'db')).toEqual(['team/a', 'team/c']);
    index.delete(es('a', 'db'));
    expect(names(index, 'team', 'db')).toEqual(['team/c']);
    index.add(es('d', 'db'));
    expect(names(index, 'team', 'db')).toEqual(['team/c', 'team/d']);
    expect(names(index, 'other', 'db')).toEqual(['other/a']);
  });

  it('follows a rename of the target (update = delete the old object, add the new)', () => {
    const index = new TargetIndex();
    index.add(es('a', 'old'));
    index.delete(es('a', 'old'));
    index.add(es('a', 'new'));
    expect(names(index, 'team', 'old')).toEqual([]);
    expect(names(index, 'team', 'new')).toEqual(['team/a']);
  });

  it('ignores deleting what it does not hold, and adding the same writer twice', () => {
    const index = new TargetIndex();
    index.add(es('a', 'db'));
    index.add(es('a', 'db'));
    index.delete(es('x', 'db'));
    index.delete(es('a', 'elsewhere'));
    expect(names(index, 'team', 'db')).toEqual(['team/a']);
    index.delete(es('a', 'db'));
    expect(names(index, 'team', 'db')).toEqual([]);
  });
});
