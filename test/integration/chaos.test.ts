// The lease chaos run, short (test/chaos/chaos.ts): the operator as real processes killed at
// random while it leases, two replicas whose leader is killed, the API server restarted with etcd
// kept, Secrets Manager failing for a quarter of the TTL. It runs on a control plane of its own,
// because restarting the shared API server would break the other files running beside it.
import { expect, it } from 'vitest';
import { goalsMissed, runChaos } from '../chaos/chaos.ts';
import { binDir } from './support/cluster.ts';

it('under kills, a leader handover, an API server restart and a Secrets Manager outage no Secret holds a refused or expired key, and no key outlives the leases unreported', async () => {
  const report = await runChaos({
    leases: 12,
    ttlSeconds: 45,
    minutes: 2.5,
    killIntervalSeconds: [5, 12],
    // Debug lines too: the search for leaked keys reads everything the operator can say.
    logLevel: 'debug',
    ...(binDir() ? { binDir: binDir() } : {}),
  });
  const summary = JSON.stringify({ ...report, findings: report.findings.slice(0, 10) });
  expect(goalsMissed(report), summary).toEqual([]);
  // The chaos happened: kills in both phases, the API server came back with every lease.
  expect(report.kills.single, summary).toBeGreaterThan(2);
  expect(report.kills.leader, summary).toBeGreaterThan(0);
  expect(report.leasesAfterApiRestart).toBe(12);
  expect(report.heldSamples).toBeGreaterThan(12 * 60);
  expect(report.logBytes).toBeGreaterThan(0);
}, 420_000);
