// The informer's memory-related behaviour: lists read and cached page by page, a list whose
// continue token expired is started again, and cached objects carry no managedFields.
import { afterEach, describe, expect, it } from 'vitest';
import { Informer, LAST_APPLIED_ANNOTATION, type RestartReason, trimObject } from './informer.ts';
import { internedCount } from './intern.ts';
import { KubeHttpError } from './kube.ts';
import { createLogger } from './logger.ts';
import { FakeClock } from './testing/fake-clock.ts';
import { FakeApi } from './testing/fakes.ts';

const secrets = { group: '', version: 'v1', plural: 'secrets', namespaced: true };
const silent = createLogger({ level: 'silent' });
const informers: Informer[] = [];

function setup(pageSize: number) {
  const clock = new FakeClock(0);
  const api = new FakeApi();
  const restarts: RestartReason[] = [];
  const events: string[] = [];
  const informer = new Informer({
    client: api,
    clock,
    log: silent,
    type: secrets,
    pageSize,
    onRestart: (r) => restarts.push(r),
    watchTimeoutSeconds: () => 300,
    random: () => 0,
  });
  informers.push(informer);
  // Which page the API server had served when each event reached the handlers.
  informer.on({
    add: (o) => events.push(`add ${o.metadata.name} after page ${api.pages.length}`),
    delete: (o) => events.push(`delete ${o.metadata.name} after page ${api.pages.length}`),
  });
  return { clock, api, restarts, events, informer };
}

afterEach(async () => {
  await Promise.all(informers.splice(0).map((i) => i.stop()));
});

describe('Informer lists', () => {
  it('caches each page as it arrives, with the page size as the limit', async () => {
    const { api, events, informer } = setup(2);
    for (const name of ['a', 'b', 'c', 'd', 'e']) api.put('ns', name, false);
    informer.start();
    await informer.waitForSync();
    expect(api.pages.map((p) => p.items)).toEqual([2, 2, 1]);
    // Page one is in the cache (and handed to the handlers) before page two is asked for.
    expect(events).toEqual([
      'add a after page 1',
      'add b after page 1',
      'add c after page 2',
      'add d after page 2',
      'add e after page 3',
    ]);
    expect(informer.list()).toHaveLength(5);
  });

  it('lists again from the start when a continue token expired (410), deleting nothing', async () => {
    const { api, events, restarts, informer } = setup(2);
    for (const name of ['a', 'b', 'c', 'd', 'e']) api.put('ns', name, false);
    api.pageFailures.push({
      page: 1,
      error: new KubeHttpError(410, 'Expired', 'The provided continue parameter is too old'),
    });
    informer.start();
    await informer.waitForSync();
    expect(api.lists).toHaveLength(2);
    expect(restarts).toEqual(['expired']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(events.filter((e) => e.startsWith('delete'))).toEqual([]);
  });

  it('deletes what vanished only once the last page is in', async () => {
    const { api, clock, events, informer } = setup(2);
    for (const name of ['a', 'b', 'c']) api.put('ns', name, false);
    informer.start();
    await informer.waitForSync();
    await clock.flush();
    api.remove('ns', 'a', false);
    api.put('ns', 'd', false);
    api.open?.fail(new KubeHttpError(410, 'Expired', 'too old resource version'));
    await clock.flush();
    // The relist is pages 3 and 4; `a` goes after the last of them, not before.
    expect(events.slice(3)).toEqual(['add d after page 4', 'delete a after page 4']);
    expect(informer.list().map((o) => o.metadata.name)).toEqual(['b', 'c', 'd']);
  });

  it('caches objects without managedFields or the last-applied annotation', async () => {
    const { api, informer } = setup(500);
    const obj = api.put('ns', 'big', false);
    obj.metadata.managedFields = [{ manager: 'kubectl', fieldsV1: { 'f:data': {} } }];
    obj.metadata.annotations = { [LAST_APPLIED_ANNOTATION]: '{"kind":"Secret"}', keep: 'me' };
    informer.start();
    await informer.waitForSync();
    const cached = informer.get('ns', 'big');
    expect(cached?.metadata).not.toHaveProperty('managedFields');
    expect(cached?.metadata.annotations).toEqual({ keep: 'me' });
  });
});

describe('trimObject', () => {
  it('drops managedFields and an annotations map left empty, and leaves other shapes alone', () => {
    const obj = {
      metadata: { name: 'x', managedFields: [], annotations: { [LAST_APPLIED_ANNOTATION]: '{}' } },
      spec: { a: 1 },
    };
    expect(trimObject(obj)).toEqual({ metadata: { name: 'x' }, spec: { a: 1 } });
    // A list item without apiVersion, kind or namespace gets no such (undefined) properties.
    expect(Object.keys(obj)).toEqual(['metadata', 'spec']);
    expect(Object.keys(obj.metadata)).toEqual(['name']);
    expect(trimObject(null)).toBe(null);
    expect(trimObject({ kind: 'Status' })).toEqual({ kind: 'Status' });
  });
  it('shares the timestamps and condition fields that resources repeat, changing no value', () => {
    // Two objects parsed apart, as two watch events are: equal strings, separate copies. Each
    // value is new to the table (no other test interned it), so the counts below are exact.
    const tag = `trim-test-${process.pid}-${Date.now()}`;
    const json = (name: string) =>
      JSON.stringify({
        metadata: { name, creationTimestamp: `2031-01-02T03:04:05Z ${tag}` },
        status: {
          refreshTime: `2031-01-02T03:04:06Z ${tag}`,
          conditions: [
            {
              type: `Ready ${tag}`,
              status: `True ${tag}`,
              reason: `SecretSynced ${tag}`,
              message: `2 keys from SecretStore ${tag}/sm`,
              lastTransitionTime: `2031-01-02T03:04:07Z ${tag}`,
            },
          ],
        },
      });
    const before = internedCount();
    const a = trimObject(JSON.parse(json('a')));
    const afterOne = internedCount();
    const b = trimObject(JSON.parse(json('b')));
    // The first object's seven repeated strings entered the table; the second's were found there.
    expect(afterOne - before).toBe(7);
    expect(internedCount()).toBe(afterOne);
    expect(b).toEqual({
      ...(a as object),
      metadata: { ...(a as { metadata: object }).metadata, name: 'b' },
    });
    expect(JSON.parse(json('b'))).toEqual(b);
  });
});
