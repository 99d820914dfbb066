import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { EventRecorder, type EventsApi, MAX_WAITING_EVENTS } from './events.ts';

function fakeApi(failCreate = false) {
  const created: Array<Record<string, unknown>> = [];
  const patched: Array<Record<string, unknown>> = [];
  const api = {
    createNamespacedEvent: async (req: { body: Record<string, unknown> }) => {
      if (failCreate) throw new Error('API server down');
      created.push(req.body);
      return req.body;
    },
    patchNamespacedEvent: async (req: Record<string, unknown>) => {
      patched.push(req);
      return {};
    },
  } as unknown as EventsApi;
  return { api, created, patched };
}

const es = {
  apiVersion: 'secrets-manager.dev/v1alpha1',
  kind: 'ExternalSecret',
  metadata: { name: 'db', namespace: 'team-a', uid: 'u1' },
};

describe('EventRecorder', () => {
  it('folds a repeat within ten minutes into a count, and starts a new Event after', async () => {
    const clock = new FakeClock();
    const { api, created, patched } = fakeApi();
    const recorder = new EventRecorder({ api, clock, log: pino({ level: 'silent' }) });
    recorder.record(es, 'Warning', 'SyncError', 'HTTP 503');
    recorder.record(es, 'Warning', 'SyncError', 'HTTP 503');
    await recorder.flush();
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({
      type: 'Warning',
      reason: 'SyncError',
      count: 1,
      involvedObject: { kind: 'ExternalSecret', name: 'db', namespace: 'team-a', uid: 'u1' },
      reportingComponent: 'secrets-manager-operator',
    });
    expect(patched).toHaveLength(1);
    expect(patched[0]).toMatchObject({ body: { count: 2 } });

    recorder.record(es, 'Warning', 'SyncError', 'another message');
    await clock.advance(11 * 60_000);
    recorder.record(es, 'Warning', 'SyncError', 'HTTP 503');
    await recorder.flush();
    expect(created).toHaveLength(3);
  });

  it('puts Events of cluster-scoped objects in "default" and never throws', async () => {
    const clock = new FakeClock();
    const ok = fakeApi();
    const recorder = new EventRecorder({ api: ok.api, clock, log: pino({ level: 'silent' }) });
    recorder.record(
      { kind: 'ClusterSecretStore', metadata: { name: 'default', uid: 'c1' } },
      'Normal',
      'Valid',
      'ok',
    );
    await recorder.flush();
    expect(ok.created[0]?.metadata).toMatchObject({ namespace: 'default' });

    const failing = fakeApi(true);
    const quiet = new EventRecorder({ api: failing.api, clock, log: pino({ level: 'silent' }) });
    expect(() => quiet.record(es, 'Normal', 'Synced', 'ok')).not.toThrow();
    await expect(quiet.flush()).resolves.toBeUndefined();
  });

  it('paces writes, serves Warnings first, and drops and counts what does not fit', async () => {
    const clock = new FakeClock();
    const { api, created } = fakeApi();
    const registry = new Registry();
    const recorder = new EventRecorder({
      api,
      clock,
      log: pino({ level: 'silent' }),
      registry,
      rate: { qps: 10, burst: 5 },
    });
    const subject = (i: number) => ({ ...es, metadata: { ...es.metadata, uid: `u${i}` } });
    for (let i = 0; i < MAX_WAITING_EVENTS + 10; i++) {
      recorder.record(subject(i), 'Normal', 'Synced', 'ok');
    }
    recorder.record(subject(-1), 'Warning', 'SyncError', 'HTTP 503');
    await clock.advance(0);
    // The burst goes out at once; the rest waits for tokens.
    expect(created).toHaveLength(5);
    await clock.advance(100);
    // The next turn goes to the Warning, although it was recorded last.
    expect(created).toHaveLength(6);
    expect(created[5]).toMatchObject({ type: 'Warning', reason: 'SyncError' });
    await clock.advance(1_000);
    expect(created).toHaveLength(16);
    // 5 written at once, MAX_WAITING_EVENTS waited, 5 Normal ones had no room.
    const dropped = await registry
      .getSingleMetric('secrets_manager_operator_events_dropped_total')
      ?.get();
    expect(dropped?.values).toEqual([{ labels: { type: 'Normal' }, value: 5 }]);
    await clock.advance(MAX_WAITING_EVENTS * 100);
    await recorder.flush();
    expect(created).toHaveLength(MAX_WAITING_EVENTS + 5 + 1);
  });
});
