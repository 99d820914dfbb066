// The lease chaos run, short (test/chaos/chaos.ts): the operator as real processes killed at
// random while it leases, two replicas whose leader is killed, the API server restarted with etcd
// kept, Secrets Manager failing for a quarter of the TTL. It runs on a control plane of its own,
// because restarting the shared API server would break the other files running beside it.
//
// The budget: a key must outlive each fault from its renewal point on, TTL x (1 - renewFraction).
// The longest fault is the API server's restart: about 13 s down, then a lease duration (6 s)
// before a standby may lead, then the start of its caches; about 20 s in all. With a 45 s TTL
// and the default fraction (15 s left) keys whose renewal fell in it expired, as they would in
// any cluster; 60 s renewed at half (30 s left) fits it, and the outage (15 s) too.
import { expect, it } from 'vitest';
import { goalsMissed, runChaos } from '../chaos/chaos.ts';
import { binDir } from './support/cluster.ts';

it('under kills, a leader handover, an API server restart and a Secrets Manager outage no Secret holds a refused or expired key, and no key outlives the leases unreported', async () => {
  const report = await runChaos({
    leases: 12,
    ttlSeconds: 60,
    renewFraction: 0.5,
    minutes: 2.5,
    killIntervalSeconds: [5, 12],
    // Debug lines too: the search for leaked keys reads everything the operator can say.
    logLevel: 'debug',
    ...(binDir() ? { binDir: binDir() } : {}),
  });
  const summary = JSON.stringify({ ...report, findings: report.findings.slice(0, 10) });
  console.log(
    `[chaos] kills ${report.kills.single}+${report.kills.leader}, API server down ${report.apiServerDownSeconds} s, ` +
      `leases current ${report.recovery.leaderKills} s after the leader kills and ${report.recovery.apiServerRestart} s after the API server's return, ` +
      `${report.heldSamples} samples, ${report.refused} refused, ${report.expired} expired`,
  );
  expect(goalsMissed(report), summary).toEqual([]);
  // The chaos happened: kills in both phases, the API server came back with every lease.
  expect(report.kills.single, summary).toBeGreaterThan(2);
  expect(report.kills.leader, summary).toBeGreaterThan(0);
  expect(report.leasesAfterApiRestart).toBe(12);
  expect(report.heldSamples).toBeGreaterThan(12 * 60);
  expect(report.logBytes).toBeGreaterThan(0);
}, 420_000);
