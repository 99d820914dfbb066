/**
 * IAMCredentialLease at scale, run by hand (it takes as long as --minutes, plus set-up):
 * N leases of a short TTL against the emulator and a real API server, for a while, then all
 * deleted. Reports:
 *   - the smallest remaining lifetime of any credential at the moment it was replaced;
 *   - credentials minted by Secrets Manager versus recorded by the leases, and the ideal;
 *   - credentials revoked (by route) and credentials that expired without being revoked.
 *
 *   node test/bench/lease.bench.ts [--leases 200] [--ttl 120] [--minutes 10] [--grace 20s]
 *                                  [--concurrency 4] [--operators 1]
 *
 * `--operators 2` runs two operators on the same leases with leader election off, as after a
 * partition or a botched handover: what they mint and leave behind shows whether they race.
 *
 * SMO_TEST_KUBECONFIG reuses a running control plane (`npm run cluster -- --dir .tmp/c`);
 * otherwise one is started (and built the first time).
 */
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import type { IAMCredentialLeaseStatus } from '../../src/api/index.ts';
import { parseConfig } from '../../src/config/config.ts';
import { registerControllers } from '../../src/controllers/index.ts';
import { startEmulator } from '../../src/emulator/index.ts';
import { loadKubeConfig } from '../../src/runtime/kube.ts';
import { createLogger } from '../../src/runtime/logger.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { benchCluster, createBenchStore } from './support.ts';

const { values } = parseArgs({
  options: {
    leases: { type: 'string', default: '200' },
    ttl: { type: 'string', default: '120' },
    minutes: { type: 'string', default: '10' },
    grace: { type: 'string', default: '20s' },
    concurrency: { type: 'string', default: '4' },
    operators: { type: 'string', default: '1' },
  },
});
const OPERATORS = Math.max(1, Number(values.operators));
const LEASES = Number(values.leases);
const TTL = Number(values.ttl);
const RUN_MS = Number(values.minutes) * 60_000;
const API_KEY = 'bench-manager-key';
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Watched {
  serviceId: string;
  expiresAt: number;
}

async function main(): Promise<void> {
  const cp = await benchCluster('lease-bench', say);
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const namespace = `lease-bench-${Date.now().toString(36)}`;
  await core.createNamespace({ body: { metadata: { name: namespace } } });

  const em = await startEmulator({
    apiKeys: [{ key: API_KEY, role: 'Manager' }],
    minCredentialTtlSeconds: 1,
  });
  em.createSecret({
    type: 'iam_credentials',
    name: 'bench-writer',
    access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
    ttl: TTL,
    reuse_api_key: false,
  });
  await createBenchStore({ core, custom }, { namespace, url: em.url, apiKey: API_KEY });
  const group = { group: GROUP, version: VERSION };

  const lines: string[] = [];
  const config = parseConfig(
    [
      '--kubeconfig',
      cp.kubeconfigPath,
      '--watch-namespaces',
      namespace,
      '--metrics-bind-address',
      '127.0.0.1:0',
      '--health-probe-bind-address',
      '0',
      '--log-level',
      'warn',
      '--concurrency',
      values.concurrency,
    ],
    {},
  );
  const log = createLogger({
    level: config.logLevel,
    destination: new Writable({
      write(chunk: Buffer, _e, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  });
  const operators: Array<{ manager: Manager; context: ReturnType<typeof registerControllers> }> =
    [];
  for (let i = 0; i < OPERATORS; i++) {
    const manager = new Manager({ config, kubeConfig: loadKubeConfig(cp.kubeconfigPath, {}), log });
    const context = registerControllers(manager, { operatorNamespace: namespace });
    await manager.start();
    operators.push({ manager, context });
  }
  const cpuStart = process.cpuUsage();

  say(`creating ${LEASES} leases (TTL ${TTL}s, grace ${values.grace}) in ${namespace}`);
  const started = Date.now();
  for (let i = 0; i < LEASES; i++) {
    await custom.createNamespacedCustomObject({
      ...group,
      plural: PLURALS.IAMCredentialLease,
      namespace,
      body: {
        apiVersion: API_VERSION,
        kind: 'IAMCredentialLease',
        metadata: { name: `lease-${i}` },
        spec: {
          storeRef: { kind: 'SecretStore', name: 'sm' },
          credential: { name: 'bench-writer' },
          gracePeriod: values.grace,
        },
      },
    });
  }

  // Watch every lease's current credential; a change is a replacement.
  const current = new Map<string, Watched>();
  let replacements = 0;
  let minRemainingMs = Number.POSITIVE_INFINITY;
  let notReady = 0;
  const poll = async () => {
    const list = (await custom.listNamespacedCustomObject({
      ...group,
      plural: PLURALS.IAMCredentialLease,
      namespace,
    })) as { items: Array<{ metadata: { name: string }; status?: IAMCredentialLeaseStatus }> };
    let waiting = 0;
    for (const item of list.items) {
      const c = item.status?.current;
      if (!c) {
        waiting++;
        continue;
      }
      const before = current.get(item.metadata.name);
      if (before && before.serviceId !== c.serviceId) {
        replacements++;
        minRemainingMs = Math.min(minRemainingMs, before.expiresAt - Date.parse(c.issuedAt));
      }
      current.set(item.metadata.name, {
        serviceId: c.serviceId,
        expiresAt: Date.parse(c.expiresAt),
      });
    }
    notReady = waiting;
  };
  const end = started + RUN_MS;
  let lastReport = Date.now();
  while (Date.now() < end) {
    await poll();
    if (Date.now() - lastReport > 60_000) {
      lastReport = Date.now();
      const c = em.counters();
      say(
        `  t=${Math.round((Date.now() - started) / 1000)}s minted=${c.credentialsMinted} revoked=${c.credentialsRevoked.total} expired=${c.credentialsExpired} replacements=${replacements} min-remaining=${(minRemainingMs / 1000).toFixed(1)}s without-credential=${notReady}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1_000));
  }
  const atEnd = em.counters();
  const metrics = (
    await Promise.all(
      operators.map(async ({ manager }) =>
        (await fetch(`http://${manager.addresses.metrics}/metrics`)).text(),
      ),
    )
  ).join('\n');
  const recorded = sumMetric(
    metrics,
    'secrets_manager_operator_lease_credentials_total',
    'result="success"',
  );
  const failedReads = sumMetric(
    metrics,
    'secrets_manager_operator_lease_credentials_total',
    'result="error"',
  );
  const expiredLeases = sumMetric(metrics, 'secrets_manager_operator_lease_expired_total', '');
  const cpu = process.cpuUsage(cpuStart);

  say('deleting every lease');
  for (let i = 0; i < LEASES; i++) {
    await custom.deleteNamespacedCustomObject({
      ...group,
      plural: PLURALS.IAMCredentialLease,
      namespace,
      name: `lease-${i}`,
    });
  }
  const deleteStart = Date.now();
  for (;;) {
    const list = (await custom.listNamespacedCustomObject({
      ...group,
      plural: PLURALS.IAMCredentialLease,
      namespace,
    })) as { items: unknown[] };
    if (list.items.length === 0 || Date.now() - deleteStart > 300_000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const deletedIn = Date.now() - deleteStart;
  const final = em.counters();
  const live = em.credentials().filter((c) => c.state === 'active').length;

  // Ideal: per lease, one credential at start and one per renewal interval (2/3 TTL, jitter
  // makes it a little shorter), within the run.
  const interval = (TTL * 2) / 3;
  const ideal = LEASES * (1 + Math.floor(RUN_MS / 1000 / interval));
  say('');
  say(
    `leases ${LEASES}, TTL ${TTL}s, grace ${values.grace}, run ${values.minutes} min, concurrency ${values.concurrency}, operators ${OPERATORS}`,
  );
  say(
    `smallest remaining lifetime at replacement: ${(minRemainingMs / 1000).toFixed(1)} s (of ${TTL} s) over ${replacements} replacements`,
  );
  say(
    `credentials minted ${atEnd.credentialsMinted}; recorded by leases ${recorded}; ideal ~${ideal}; failed reads ${failedReads}`,
  );
  say(
    `during the run: revoked ${atEnd.credentialsRevoked.total} ${JSON.stringify(atEnd.credentialsRevoked.byRoute)}; expired unrevoked ${atEnd.credentialsExpired}; leases that expired ${expiredLeases}`,
  );
  say(
    `after deleting all leases (${(deletedIn / 1000).toFixed(1)} s): revoked ${final.credentialsRevoked.total}, expired unrevoked ${final.credentialsExpired}, still valid ${live}`,
  );
  say(`operator process CPU during the run: ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s`);
  const warnings = lines.filter(
    (l) => l.includes('"level":"warn"') || l.includes('"level":"error"'),
  );
  say(`operator warnings/errors logged: ${warnings.length}`);
  for (const w of warnings.slice(0, 5)) say(`  ${w.trim().slice(0, 300)}`);

  for (const { manager, context } of operators) {
    await manager.stop();
    await context.pool.close();
  }
  await em.stop();
  await core.deleteNamespace({ name: namespace }).catch(() => {});
  await cp.stop();
}

function sumMetric(text: string, name: string, labelPart: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      if (labelPart === '' || line.includes(labelPart)) sum += Number(line.split(' ').at(-1));
    }
  }
  return sum;
}

await main();
process.exit(0);
