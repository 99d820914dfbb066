import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../api/group.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { ECHO_WINDOW_MS, StatusWriter, type StatusWriterOptions } from './status.ts';
import { FakeEvents, FakeResources } from './testing/kube.ts';

const KIND = 'ExternalSecret';

function ready(status: 'True' | 'False', reason: string) {
  return {
    type: 'Ready',
    status,
    reason,
    message: `${reason} message`,
    lastTransitionTime: '2026-01-01T00:00:00Z',
  };
}

function setup(over: Partial<StatusWriterOptions> = {}) {
  const clock = new FakeClock();
  const resources = new FakeResources();
  const events = new FakeEvents();
  const writer = new StatusWriter({ kind: KIND, resources, events, clock, mode: 'merge', ...over });
  const obj = resources.put(KIND, {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'db', namespace: 'team-a', uid: 'uid-db' },
    status: { conditions: [ready('True', 'Synced')], observedGeneration: 1, secretName: 'db' },
  } as KubeObject);
  return { clock, resources, events, writer, obj };
}

const statusOf = (o: KubeObject) => (o as { status?: Record<string, unknown> }).status ?? {};

describe('StatusWriter', () => {
  it('merge mode sends only the fields that changed and null for removed ones', async () => {
    const { writer, resources, obj } = setup();
    const result = await writer.write(obj, {
      conditions: [ready('True', 'Synced')],
      observedGeneration: 2,
      refreshTime: '2026-01-01T00:00:00Z',
    });
    expect(result.written).toBe(true);
    expect(resources.writes).toEqual([
      {
        op: 'patchStatus',
        name: 'db',
        body: { observedGeneration: 2, refreshTime: '2026-01-01T00:00:00Z', secretName: null },
      },
    ]);
    expect(statusOf(resources.get(KIND, 'team-a', 'db') as KubeObject)).toEqual({
      conditions: [ready('True', 'Synced')],
      observedGeneration: 2,
      refreshTime: '2026-01-01T00:00:00Z',
    });
  });

  it('replace mode sends the whole status', async () => {
    const { writer, resources, obj } = setup({ mode: 'replace' });
    const next = { conditions: [ready('True', 'Synced')], observedGeneration: 2 };
    await writer.write(obj, next);
    expect(resources.writes).toEqual([{ op: 'replaceStatus', name: 'db', body: next }]);
  });

  it('writes nothing when the status is deep-equal, whatever the key order', async () => {
    const { writer, resources, events, obj } = setup();
    const result = await writer.write(obj, {
      secretName: 'db',
      observedGeneration: 1,
      conditions: [ready('True', 'Synced')],
      refreshTime: undefined,
      nextRefreshTime: null,
    });
    expect(result).toEqual({ written: false });
    expect(resources.writes).toEqual([]);
    expect(events.recorded).toEqual([]);
  });

  it('records one Event when Ready changes: Warning to False, Normal back to True', async () => {
    const { writer, events, obj } = setup();
    const failed = { ...statusOf(obj), conditions: [ready('False', 'SyncError')] };
    await writer.write(obj, failed);
    expect(events.recorded).toEqual([
      { object: 'db', type: 'Warning', reason: 'SyncError', message: 'SyncError message' },
    ]);
    // Only the message or other fields changed: no Event.
    await writer.write({ ...obj, status: failed }, { ...failed, observedGeneration: 3 });
    expect(events.recorded).toHaveLength(1);
    await writer.write({ ...obj, status: failed }, statusOf(obj));
    expect(events.recorded.at(-1)).toMatchObject({ type: 'Normal', reason: 'Synced' });
    expect(events.recorded).toHaveLength(2);
  });

  it('records no Ready Events with readyEvents false', async () => {
    const { writer, events, resources, obj } = setup({ readyEvents: false });
    await writer.write(obj, { conditions: [ready('False', 'SyncError')] });
    expect(resources.writes).toHaveLength(1);
    expect(events.recorded).toEqual([]);
  });

  it('view puts back our last write while the cache is older, only for the same object', async () => {
    const { writer, obj } = setup();
    const next = { ...statusOf(obj), observedGeneration: 2 };
    await writer.write(obj, next);
    expect(statusOf(writer.view(obj))).toEqual(next);
    // A new object of the same name (deleted and created again) does not get it.
    const recreated = { ...obj, metadata: { ...obj.metadata, uid: 'uid-other' } };
    expect(writer.view(recreated)).toBe(recreated);
    writer.forget(obj);
    expect(writer.view(obj)).toBe(obj);
  });

  it('knows the echo of its own write for 30 s, and only at its resourceVersion', async () => {
    const { writer, clock, obj } = setup();
    const echoOf = async (observedGeneration: number) => {
      const { resourceVersion } = await writer.write(obj, { observedGeneration });
      expect(resourceVersion).toBeDefined();
      return { ...obj, metadata: { ...obj.metadata, resourceVersion } };
    };
    const first = await echoOf(9);
    expect(writer.isOwnEcho(obj)).toBe(false);
    expect(writer.isOwnEcho(first)).toBe(true);
    const late = await echoOf(10);
    await clock.advance(ECHO_WINDOW_MS);
    expect(writer.isOwnEcho(late)).toBe(true);
    const tooLate = await echoOf(11);
    await clock.advance(ECHO_WINDOW_MS + 1);
    expect(writer.isOwnEcho(tooLate)).toBe(false);
  });

  it('forgets a write once the cache shows it, so nothing is kept per resource', async () => {
    const { writer, obj } = setup();
    const { resourceVersion } = await writer.write(obj, { observedGeneration: 2 });
    expect(writer.remembered).toBe(1);
    // The cache is older: the write is put back and still remembered.
    expect(statusOf(writer.view(obj))).toEqual({ observedGeneration: 2 });
    expect(writer.remembered).toBe(1);
    // The watch brought the write back: the cache has it, nothing is remembered any more.
    const echo = { ...obj, metadata: { ...obj.metadata, resourceVersion } };
    expect(writer.isOwnEcho(echo)).toBe(true);
    expect(writer.remembered).toBe(0);
    expect(writer.view(echo)).toBe(echo);

    // The echo came before the write's response (not recognised): the next view forgets it.
    const again = await writer.write(echo, { observedGeneration: 3 });
    const cached = { ...echo, status: { observedGeneration: 3 } };
    cached.metadata = { ...echo.metadata, resourceVersion: again.resourceVersion };
    expect(writer.remembered).toBe(1);
    expect(writer.view(cached)).toBe(cached);
    expect(writer.remembered).toBe(0);
  });

  it('knows the echo that comes before its write is answered, unless more than status changed', async () => {
    const { resources, obj, ...rest } = setup();
    let answer: (() => void) | undefined;
    const held = {
      replaceStatus: resources.replaceStatus.bind(resources),
      patchStatus: async (...args: Parameters<FakeResources['patchStatus']>) => {
        await new Promise<void>((r) => {
          answer = r;
        });
        return resources.patchStatus(...args);
      },
    };
    const writer = new StatusWriter({ kind: KIND, resources: held, ...rest, mode: 'merge' });
    const next = { ...statusOf(obj), observedGeneration: 2 };
    const writing = writer.write(obj, next);
    await Promise.resolve();
    // The watch event of this very write, seen before the answer: only the status moved.
    const echo = { ...obj, status: next, metadata: { ...obj.metadata, resourceVersion: '99' } };
    expect(writer.isOwnEcho(echo)).toBe(true);
    // Not an echo: another status, or a force-sync annotation that came with it.
    expect(writer.isOwnEcho({ ...echo, status: { ...next, observedGeneration: 3 } })).toBe(false);
    const annotated = { ...echo.metadata, annotations: { 'secrets-manager.dev/force-sync': '1' } };
    expect(writer.isOwnEcho({ ...echo, metadata: annotated })).toBe(false);
    const regenerated = { ...echo.metadata, generation: 2 };
    expect(writer.isOwnEcho({ ...echo, metadata: regenerated })).toBe(false);
    (answer as () => void)();
    await writing;
    // Answered: back to the resourceVersion rule.
    expect(writer.isOwnEcho(echo)).toBe(false);
  });

  it('throws without writing once the signal has aborted', async () => {
    const { writer, resources, events, obj } = setup();
    const controller = new AbortController();
    controller.abort(new Error('lost leadership'));
    await expect(
      writer.write(obj, { conditions: [ready('False', 'SyncError')] }, controller.signal),
    ).rejects.toThrow('lost leadership');
    expect(resources.writes).toEqual([]);
    expect(events.recorded).toEqual([]);
    expect(writer.view(obj)).toBe(obj);
  });
});
