import { describe, expect, it } from 'vitest';
import { withoutManagedFields } from './managedfields.ts';

const entry = {
  manager: 'secrets-manager-operator',
  operation: 'Apply',
  fieldsType: 'FieldsV1',
  // Keys with braces, brackets, quotes and escapes, as fieldsV1 has them.
  fieldsV1: { 'f:metadata': { 'k:{"uid":"u-1"}': {}, 'f:labels': { 'f:a]b[c': {} } } },
};

function roundTrip(obj: unknown): unknown {
  return JSON.parse(withoutManagedFields(JSON.stringify(obj)));
}

describe('withoutManagedFields', () => {
  it('cuts managedFields wherever it stands among metadata, and nothing else', () => {
    const first = { metadata: { managedFields: [entry], name: 'a', uid: 'u' }, spec: { x: [1] } };
    const middle = { metadata: { name: 'a', managedFields: [entry, entry], uid: 'u' } };
    const last = { metadata: { name: 'a', managedFields: [] } };
    expect(roundTrip(first)).toEqual({ metadata: { name: 'a', uid: 'u' }, spec: { x: [1] } });
    expect(roundTrip(middle)).toEqual({ metadata: { name: 'a', uid: 'u' } });
    expect(roundTrip(last)).toEqual({ metadata: { name: 'a' } });
  });

  it('cuts it from every item of a list page and from a watch event', () => {
    const item = (name: string) => ({
      metadata: { name, managedFields: [entry] },
      data: { k: 'v' },
    });
    const page = {
      kind: 'SecretList',
      metadata: { resourceVersion: '7' },
      items: [item('a'), item('b')],
    };
    expect(roundTrip(page)).toEqual({
      kind: 'SecretList',
      metadata: { resourceVersion: '7' },
      items: [
        { metadata: { name: 'a' }, data: { k: 'v' } },
        { metadata: { name: 'b' }, data: { k: 'v' } },
      ],
    });
    expect(roundTrip({ type: 'MODIFIED', object: item('c') })).toEqual({
      type: 'MODIFIED',
      object: { metadata: { name: 'c' }, data: { k: 'v' } },
    });
  });

  it('leaves the words alone inside strings, and text it does not understand', () => {
    const annotated = {
      metadata: {
        name: 'a',
        annotations: {
          note: '"managedFields":[1,2]',
          json: JSON.stringify({ managedFields: [1] }),
        },
      },
    };
    expect(roundTrip(annotated)).toEqual(annotated);
    const data = { data: { managedFields: '[x]' } };
    expect(roundTrip(data)).toEqual(data);
    // Unterminated: unchanged, for JSON.parse to report.
    const broken = '{"metadata":{"managedFields":[{"a":1}';
    expect(withoutManagedFields(broken)).toBe(broken);
    expect(withoutManagedFields('{"a":1}')).toBe('{"a":1}');
  });
});
