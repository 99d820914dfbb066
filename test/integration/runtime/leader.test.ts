// Leader election with two instances against a real coordination.k8s.io Lease.
import { CoordinationV1Api, V1MicroTime } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { realClock } from '../../../src/runtime/clock.ts';
import { type ElectionEnd, KubeLeaseStore, LeaderElector } from '../../../src/runtime/leader.ts';
import { createLogger } from '../../../src/runtime/logger.ts';
import { createNamespace, eventually, kubeConfig, operatorKube } from '../support/cluster.ts';

const log = createLogger({ level: 'silent' });

interface Instance {
  elector: LeaderElector;
  stop: AbortController;
  ended: Promise<ElectionEnd>;
  startedAt?: number;
  stoppedAt?: number;
  work?: AbortSignal;
}

interface Timing {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

function instance(
  namespace: string,
  lease: string,
  identity: string,
  timing: Timing,
  release = true,
): Instance {
  const i = { stop: new AbortController() } as Instance;
  i.elector = new LeaderElector({
    store: new KubeLeaseStore(operatorKube(), namespace, lease),
    identity,
    clock: realClock,
    log,
    ...timing,
    releaseOnCancel: release,
    onStartedLeading: (signal) => {
      i.startedAt = Date.now();
      i.work = signal;
    },
    onStoppedLeading: () => {
      i.stoppedAt = Date.now();
    },
  });
  i.ended = i.elector.run(i.stop.signal);
  return i;
}

let namespace: string;
let leases: CoordinationV1Api;

beforeAll(async () => {
  namespace = await createNamespace('rt-leader');
  leases = kubeConfig().makeApiClient(CoordinationV1Api);
});

async function holder(
  name: string,
): Promise<{ holder: string; renewMs: number; transitions: number }> {
  const lease = await leases.readNamespacedLease({ namespace, name });
  return {
    holder: lease.spec?.holderIdentity ?? '',
    renewMs: new Date(lease.spec?.renewTime ?? 0).getTime(),
    transitions: lease.spec?.leaseTransitions ?? 0,
  };
}

describe('leader election on a real Lease', () => {
  it('lets one instance lead; a standby takes over after the leader dies, not before its lease ran out', async () => {
    const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 };
    const a = instance(namespace, 'crash', 'a', timing, false);
    await eventually('a to lead', async () => (a.elector.isLeader ? true : undefined));
    const b = instance(namespace, 'crash', 'b', timing);
    await eventually('b to stand by', async () =>
      b.elector.state === 'standby' ? true : undefined,
    );
    expect(b.elector.leader).toBe('a');
    expect((await holder('crash')).holder).toBe('a');

    // "Crash" a: it stops renewing and does not release.
    a.stop.abort();
    await a.ended;
    const last = await holder('crash');
    expect(last.holder).toBe('a');

    await eventually('b to take over', async () => (b.elector.isLeader ? true : undefined), 30_000);
    // Never two leaders: b waited out a's lease from a's last renewal.
    expect(b.startedAt).toBeGreaterThanOrEqual(last.renewMs + timing.leaseDurationMs);
    const now = await holder('crash');
    expect(now.holder).toBe('b');
    expect(now.transitions).toBe(1);
    b.stop.abort();
    expect(await b.ended).toBe('stopped');
  });

  it('hands over without waiting out the lease when the leader releases it', async () => {
    const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 300 };
    const a = instance(namespace, 'release', 'a', timing);
    await eventually('a to lead', async () => (a.elector.isLeader ? true : undefined));
    const b = instance(namespace, 'release', 'b', timing);
    await eventually('b to stand by', async () =>
      b.elector.state === 'standby' ? true : undefined,
    );
    const lastRenew = (await holder('release')).renewMs;
    a.stop.abort();
    expect(await a.ended).toBe('stopped');
    expect((await holder('release')).holder).toBe('');
    await eventually('b to take over', async () => (b.elector.isLeader ? true : undefined));
    // Well inside the 15 s a crashed leader's lease would have blocked it.
    expect(b.startedAt).toBeLessThan(lastRenew + timing.leaseDurationMs);
    b.stop.abort();
    await b.ended;
  });

  it('stops the old leader working when it loses the Lease', async () => {
    const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 300 };
    const a = instance(namespace, 'stolen', 'a', timing);
    await eventually('a to lead', async () => (a.elector.isLeader ? true : undefined));
    expect(a.work?.aborted).toBe(false);
    // Someone else writes the Lease (as a partitioned leader's successor would).
    const lease = await leases.readNamespacedLease({ namespace, name: 'stolen' });
    await leases.replaceNamespacedLease({
      namespace,
      name: 'stolen',
      body: {
        metadata: { name: 'stolen', namespace, resourceVersion: lease.metadata?.resourceVersion },
        spec: {
          holderIdentity: 'intruder',
          leaseDurationSeconds: 60,
          acquireTime: new V1MicroTime(Date.now()),
          renewTime: new V1MicroTime(Date.now()),
          leaseTransitions: 1,
        },
      },
    });
    expect(await a.ended).toBe('lost');
    expect(a.work?.aborted).toBe(true);
    expect(a.elector.isLeader).toBe(false);
    expect((await holder('stolen')).holder).toBe('intruder');
  });
});
