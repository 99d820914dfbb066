import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { EventRecorder, type EventsApi } from './events.ts';

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
});
