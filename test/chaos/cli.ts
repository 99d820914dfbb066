/**
 * `npm run chaos -- [--leases 100] [--ttl 120] [--minutes 8] [--grace S] [--outage S]
 *                 [--renew-fraction F] [--log-level info|debug] [--keep-logs]`
 *
 * Runs the lease chaos (./chaos.ts) on a control plane of its own, prints its figures as a
 * table, and exits 1 when any goal is missed (the operator logs are then kept and named).
 */
import { parseArgs } from 'node:util';
import { goalsMissed, runChaos } from './chaos.ts';

const { values } = parseArgs({
  options: {
    leases: { type: 'string', default: '100' },
    ttl: { type: 'string', default: '120' },
    minutes: { type: 'string', default: '8' },
    grace: { type: 'string' },
    outage: { type: 'string' },
    'renew-fraction': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'keep-logs': { type: 'boolean', default: false },
  },
});
const say = (line: string) => process.stdout.write(`${line}\n`);
const started = new Date();
const report = await runChaos({
  leases: Number(values.leases),
  ttlSeconds: Number(values.ttl),
  minutes: Number(values.minutes),
  ...(values.grace !== undefined ? { graceSeconds: Number(values.grace) } : {}),
  ...(values.outage !== undefined ? { outageSeconds: Number(values.outage) } : {}),
  ...(values['renew-fraction'] !== undefined
    ? { renewFraction: Number(values['renew-fraction']) }
    : {}),
  logLevel: values['log-level'] === 'debug' ? 'debug' : 'info',
  keepLogs: values['keep-logs'],
  log: (line) => say(`  ${line}`),
});

const rows: Array<[string, string | number, string]> = [
  [
    'leases / TTL / grace / renewal',
    `${report.leases} / ${report.ttlSeconds} s / ${report.graceSeconds} s / ${report.renewFraction.toFixed(2)} TTL`,
    '',
  ],
  [
    'chaos run',
    `${report.runSeconds} s`,
    report.phases.map((p) => `${p.name} ${p.fromS}-${p.toS}s`).join(', '),
  ],
  [
    'kills (SIGKILL)',
    report.kills.single + report.kills.leader,
    `single operator ${report.kills.single}, leader of two ${report.kills.leader}`,
  ],
  ['self exits (restarted)', report.selfExits, 'lost leader election Lease'],
  [
    'API server restart',
    `${report.apiServerDownSeconds} s down`,
    `${report.leasesAfterApiRestart} leases after it (etcd kept)`,
  ],
  [
    'leases current again',
    `${report.recovery.leaderKills ?? 'not'} s after the leader kills`,
    `${report.recovery.apiServerRestart ?? 'not'} s after the API server's return (goal: within the TTL)`,
  ],
  ['Secrets Manager failing', `${report.outageSeconds} s`, 'every request 503'],
  [
    'samples',
    report.samples,
    `${report.heldSamples} Secret samples holding a key; ${report.failedSamples} rounds the API refused`,
  ],
  ['refused by IAM', report.refused, 'goal 0'],
  ['expired while held', report.expired, 'goal 0'],
  [
    'minted vs need',
    `${report.minted} vs ${report.need}`,
    `need = leases × (1 + run / (${report.renewFraction.toFixed(2)} TTL))`,
  ],
  ['deletion', `${report.deleteSeconds} s`, `${report.leasesLeft} leases left`],
  [
    'left valid after deletion',
    report.leftValid,
    `${report.leftValidUnreported} unreported (goal 0)`,
  ],
  ['crash-window keys reported', report.crashWindowReported, 'UnrecordedCredential'],
  ['valid after their TTL', report.validAfterTtl, 'goal 0'],
  [
    'keys found in logs',
    report.keysInLogs,
    `${report.keysTracked} keys searched in ${(report.logBytes / 1e6).toFixed(1)} MB (goal 0)`,
  ],
];
say('');
say(
  `npm run chaos -- --leases ${report.leases} --ttl ${report.ttlSeconds} --minutes ${values.minutes} (${started.toISOString()})`,
);
const w = Math.max(...rows.map((r) => r[0].length));
const v = Math.max(...rows.map((r) => String(r[1]).length));
for (const [name, value, note] of rows) {
  say(`${name.padEnd(w)}  ${String(value).padStart(v)}  ${note}`);
}
for (const f of report.findings.slice(0, 20)) say(`finding: ${JSON.stringify(f)}`);
const missed = goalsMissed(report);
if (report.logDir) say(`operator logs: ${report.logDir}`);
say(missed.length === 0 ? 'every goal met' : `goals missed: ${missed.join('; ')}`);
process.exit(missed.length === 0 ? 0 : 1);
