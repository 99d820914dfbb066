// The lease controller under chaos: the operator as real processes (`node src/main.ts`), SIGKILLed
// at random moments while it leases, re-leases and revokes; then two replicas with leader
// election whose leader is killed; the API server restarted with etcd kept; Secrets Manager
// failing every request for a while. IAM (the in-process emulator) is the judge throughout.
//
// `runChaos` is the harness alone: it prints nothing (progress goes to `options.log`) and returns
// the figures; `goalsMissed` says which goals a report misses. `npm run chaos` (./cli.ts) and
// test/integration/chaos.test.ts use it.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type V1Secret,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { DEFAULT_RENEW_FRACTION, type IAMCredentialLeaseStatus } from '../../src/api/index.ts';
import { type Emulator, startEmulator } from '../../src/emulator/index.ts';
import { createBenchStore } from '../bench/support.ts';
import { type ControlPlane, startControlPlane } from '../controlplane/controlplane.ts';
import { installCrds } from '../integration/support/crds.ts';

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url));
const MANAGER_KEY = 'chaos-manager-key';
const CREDENTIAL = 'chaos-writer';
const ELECTION_ID = 'chaos-operator';

export interface ChaosOptions {
  leases: number;
  ttlSeconds: number;
  /** The chaos itself; set-up and the final deletion come on top. */
  minutes: number;
  /** How long a replaced key stays valid. Default: TTL / 10, at least 3 s. */
  graceSeconds?: number;
  /**
   * The leases' spec.renewFraction (default: the spec's own, 2/3). Every fault must fit in what
   * is left of a key after its renewal point, TTL x (1 - fraction): while the API server is down
   * no Secret can take a new key, and a leader handover adds a lease duration after it is back.
   */
  renewFraction?: number;
  /** Seconds between kills, drawn uniformly (from the moment the operator is back). Default [4, 15]. */
  killIntervalSeconds?: [number, number];
  /** Seconds a killed process stays down before it is started again. Default [0.5, 3]. */
  downSeconds?: [number, number];
  /** How long Secrets Manager fails every request. Default TTL / 4. */
  outageSeconds?: number;
  /** Control-plane binaries (default: build.sh's cache). */
  binDir?: string;
  /** The operators' `--log-level` (default info); debug gives the key search more to read. */
  logLevel?: 'debug' | 'info';
  /** Keep the operator logs and the control plane's directory even when every goal is met. */
  keepLogs?: boolean;
  random?: () => number;
  /** Progress lines for humans. */
  log?: (line: string) => void;
}

export type PhaseName = 'kill-single' | 'kill-leader' | 'apiserver-restart' | 'sm-outage';

/** One lease's Secret at one sample, when something was wrong with it. */
export interface Finding {
  phase: PhaseName | 'end';
  /** Seconds since the chaos started. */
  t: number;
  lease: string;
  serviceId: string;
  /** What the emulator says of that credential: active, expired, revoked (by route). */
  state: string;
  expiresAt: string;
}

export interface ChaosReport {
  leases: number;
  ttlSeconds: number;
  graceSeconds: number;
  renewFraction: number;
  outageSeconds: number;
  runSeconds: number;
  phases: Array<{ name: PhaseName; fromS: number; toS: number }>;
  kills: { single: number; leader: number };
  /** Processes that ended on their own (a lost leader election Lease) and were started again. */
  selfExits: number;
  apiServerDownSeconds: number;
  /** Leases the API server still had after its restart (etcd kept). */
  leasesAfterApiRestart: number;
  /**
   * Seconds from the end of a fault until every lease was current again (its renewal not due,
   * its Secret holding its key), measured before the next fault starts; `null`: not within a TTL.
   */
  recovery: { leaderKills: number | null; apiServerRestart: number | null };
  /** Sampling rounds that read every lease and Secret; rounds the API server refused. */
  samples: number;
  failedSamples: number;
  /** Samples of a lease's Secret: how many held a key, how many keys IAM refused, how many had expired. */
  heldSamples: number;
  refused: number;
  expired: number;
  findings: Finding[];
  minted: number;
  need: number;
  deleteSeconds: number;
  leasesLeft: number;
  /** Keys still valid once every lease was gone. */
  leftValid: number;
  /** `UnrecordedCredential` reports (Events and log lines, distinct). */
  crashWindowReported: number;
  /** Left valid keys beyond those reported as crash-window keys. */
  leftValidUnreported: number;
  /** Left valid keys whose expiry is not their TTL. */
  leftValidWrongTtl: number;
  /** Keys still valid after waiting past the expiry of every left valid key. */
  validAfterTtl: number;
  keysTracked: number;
  logBytes: number;
  keysInLogs: number;
  /** Where the operator logs are, when kept. */
  logDir: string | undefined;
}

/** The goals every run must meet; empty when it met them all. */
export function goalsMissed(r: ChaosReport): string[] {
  const missed: string[] = [];
  if (r.refused > 0) missed.push(`${r.refused} samples of a Secret holding a key IAM refused`);
  if (r.expired > 0) missed.push(`${r.expired} samples of a Secret holding an expired key`);
  if (r.leasesLeft > 0) missed.push(`${r.leasesLeft} leases not gone after deletion`);
  if (r.leftValidUnreported > 0) {
    missed.push(`${r.leftValidUnreported} keys left valid after deletion and never reported`);
  }
  if (r.leftValidWrongTtl > 0) missed.push(`${r.leftValidWrongTtl} left keys outlive their TTL`);
  if (r.validAfterTtl > 0) missed.push(`${r.validAfterTtl} keys still valid after their TTL`);
  if (r.keysInLogs > 0) missed.push(`${r.keysInLogs} API keys found in the operator logs`);
  if (r.samples === 0 || r.heldSamples === 0) missed.push('no sample of any Secret was taken');
  const faults = { leaderKills: 'the leader kills', apiServerRestart: "the API server's restart" };
  for (const [fault, name] of Object.entries(faults)) {
    if (r.recovery[fault as keyof typeof faults] === null) {
      missed.push(`leases not current again within the TTL after ${name}`);
    }
  }
  return missed;
}

interface LeaseItem {
  metadata: { name: string };
  status?: IAMCredentialLeaseStatus;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** One operator replica: a process started again after every kill or exit, until retired. */
class Replica {
  readonly name: string;
  #child: ChildProcess | undefined;
  #logFile = '';
  #incarnation = 0;
  #retired = false;
  #killing = false;
  selfExits = 0;
  readonly #args: string[];
  readonly #dir: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #log: (line: string) => void;

  constructor(
    name: string,
    args: string[],
    dir: string,
    env: NodeJS.ProcessEnv,
    log: (line: string) => void,
  ) {
    this.name = name;
    this.#args = args;
    this.#dir = dir;
    this.#env = env;
    this.#log = log;
  }

  start(): void {
    this.#incarnation++;
    this.#logFile = join(this.#dir, `${this.name}-${this.#incarnation}.log`);
    const fd = openSync(this.#logFile, 'a');
    const child = spawn(process.execPath, [MAIN, ...this.#args], {
      stdio: ['ignore', fd, fd],
      env: this.#env,
    });
    closeSync(fd);
    this.#child = child;
    child.once('exit', (code, signal) => {
      if (this.#killing || this.#retired || this.#child !== child) return;
      // It ended on its own (a lost leader election Lease exits 1): start it again, as a
      // Deployment would.
      this.selfExits++;
      this.#log(`${this.name} exited on its own (${code ?? signal}); starting it again`);
      setTimeout(() => {
        if (!this.#retired && this.#child === child) this.start();
      }, 1_000);
    });
  }

  /** Its leader election identity, once the current process has logged it. */
  identity(): string | undefined {
    const text = readLog(this.#logFile);
    return /"identity":"([^"]+)"/.exec(text)?.[1];
  }

  get alive(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && !this.#child.signalCode;
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode) return;
    this.#killing = true;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.#killing = false;
  }

  /** Stops it for good: SIGTERM (a clean shutdown), SIGKILL after 10 s. */
  async retire(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    this.#retired = true;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const log = options.log ?? (() => {});
  const random = options.random ?? Math.random;
  const ttl = options.ttlSeconds;
  const grace = options.graceSeconds ?? Math.max(3, Math.round(ttl / 10));
  const outage = options.outageSeconds ?? Math.round(ttl / 4);
  const renewFraction = options.renewFraction ?? DEFAULT_RENEW_FRACTION;
  const [killMin, killMax] = options.killIntervalSeconds ?? [4, 15];
  const [downMin, downMax] = options.downSeconds ?? [0.5, 3];
  const between = (a: number, b: number) => (a + (b - a) * random()) * 1000;
  const runMs = options.minutes * 60_000;

  const dir = mkdtempSync(join(tmpdir(), 'smo-chaos-'));
  const logDir = join(dir, 'logs');
  const replicas: Replica[] = [];
  let cp: ControlPlane | undefined;
  let em: Emulator | undefined;
  let keep = options.keepLogs ?? false;
  try {
    cp = await startControlPlane({
      dir: join(dir, 'controlplane'),
      controllerManager: false,
      log,
      ...(options.binDir ? { binDir: options.binDir } : {}),
      beforeControllers: async (path) => {
        const kc = new KubeConfig();
        kc.loadFromFile(path);
        await installCrds(kc, 'chaos');
      },
    });
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const namespace = 'chaos';
    await core.createNamespace({ body: { metadata: { name: namespace } } });

    const emulator = await startEmulator({
      apiKeys: [{ key: MANAGER_KEY, role: 'Manager' }],
      minCredentialTtlSeconds: 1,
    });
    em = emulator;
    emulator.createSecret({
      type: 'iam_credentials',
      name: CREDENTIAL,
      access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
      ttl,
      reuse_api_key: false,
    });
    await createBenchStore({ core, custom }, { namespace, url: emulator.url, apiKey: MANAGER_KEY });
    const group = { group: GROUP, version: VERSION };

    mkdirSync(logDir);
    const baseArgs = [
      '--kubeconfig',
      cp.kubeconfigPath,
      '--watch-namespaces',
      namespace,
      '--metrics-bind-address',
      '127.0.0.1:0',
      '--health-probe-bind-address',
      '127.0.0.1:0',
      '--log-level',
      options.logLevel ?? 'info',
      '--shutdown-timeout',
      '2s',
    ];
    const electionArgs = [
      '--leader-elect',
      '--leader-election-namespace',
      namespace,
      '--leader-election-id',
      ELECTION_ID,
      '--leader-election-lease-duration',
      '6s',
      '--leader-election-renew-deadline',
      '4s',
      '--leader-election-retry-period',
      '1s',
    ];
    // The hash key Secret lives in the pod's namespace when leader election is off.
    const env = { ...process.env, POD_NAMESPACE: namespace };
    const replica = (name: string, args: string[]) => {
      const r = new Replica(name, args, logDir, env, log);
      replicas.push(r);
      return r;
    };

    const solo = replica('solo', baseArgs);
    solo.start();
    const names = Array.from({ length: options.leases }, (_, i) => `lease-${i}`);
    for (const name of names) {
      await custom.createNamespacedCustomObject({
        ...group,
        plural: PLURALS.IAMCredentialLease,
        namespace,
        body: {
          apiVersion: API_VERSION,
          kind: 'IAMCredentialLease',
          metadata: { name },
          spec: {
            storeRef: { kind: 'SecretStore', name: 'sm' },
            credential: { name: CREDENTIAL },
            target: { name: `${name}-creds` },
            gracePeriod: `${grace}s`,
            ...(options.renewFraction !== undefined
              ? { renewFraction: options.renewFraction }
              : {}),
          },
        },
      });
    }
    const listLeases = async () =>
      (
        (await custom.listNamespacedCustomObject({
          ...group,
          plural: PLURALS.IAMCredentialLease,
          namespace,
        })) as { items: LeaseItem[] }
      ).items;
    const listSecrets = async () => (await core.listNamespacedSecret({ namespace })).items;
    const setupDeadline = Date.now() + 120_000 + options.leases * 1_000;
    for (;;) {
      const secrets = await listSecrets();
      const held = secrets.filter((s) => s.metadata?.name?.endsWith('-creds') && s.data?.apikey);
      if (held.length === options.leases) break;
      if (Date.now() > setupDeadline) {
        throw new Error(`only ${held.length} of ${options.leases} leases got a key at the start`);
      }
      await sleep(500);
    }
    log(`${options.leases} leases hold a key; chaos for ${options.minutes} min`);

    // --- Sampling: every lease's Secret about once a second, judged by IAM. ---
    const started = Date.now();
    const since = () => Math.round((Date.now() - started) / 100) / 10;
    let phase: PhaseName = 'kill-single';
    const keys = new Set<string>();
    const report = {
      samples: 0,
      failedSamples: 0,
      heldSamples: 0,
      refused: 0,
      expired: 0,
      findings: [] as Finding[],
    };
    const seen = new Set<string>();
    const sampleOnce = async () => {
      let leases: LeaseItem[];
      let secrets: V1Secret[];
      try {
        [leases, secrets] = await Promise.all([listLeases(), listSecrets()]);
      } catch {
        report.failedSamples++;
        return;
      }
      for (const k of emulator.mintedApiKeys()) keys.add(k);
      const now = Date.now();
      const credentials = new Map(emulator.credentials().map((c) => [c.serviceId, c]));
      const byName = new Map(secrets.map((s) => [s.metadata?.name ?? '', s]));
      report.samples++;
      for (const lease of leases) {
        const data = byName.get(`${lease.metadata.name}-creds`)?.data;
        if (!data?.apikey) continue;
        const key = Buffer.from(data.apikey, 'base64').toString();
        const serviceId = Buffer.from(data.service_id ?? '', 'base64').toString();
        keys.add(key);
        report.heldSamples++;
        const credential = credentials.get(serviceId);
        const current = lease.status?.current;
        const refused = !emulator.isApiKeyValid(key);
        const expired =
          (credential !== undefined && credential.expiresAt <= now) ||
          (current?.serviceId === serviceId && Date.parse(current.expiresAt) <= now);
        if (refused) report.refused++;
        if (expired) report.expired++;
        if ((refused || expired) && !seen.has(`${lease.metadata.name}|${serviceId}`)) {
          seen.add(`${lease.metadata.name}|${serviceId}`);
          const finding: Finding = {
            phase,
            t: since(),
            lease: lease.metadata.name,
            serviceId,
            state: credential
              ? `${credential.state}${credential.revokedBy ? ` (${credential.revokedBy})` : ''}`
              : 'unknown',
            expiresAt: credential ? new Date(credential.expiresAt).toISOString() : '?',
          };
          report.findings.push(finding);
          log(`finding: ${JSON.stringify(finding)}`);
        }
      }
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const at = Date.now();
        await sampleOnce();
        await sleep(1_000 - (Date.now() - at));
      }
    })();

    // --- The phases. ---
    const phases: ChaosReport['phases'] = [];
    const kills = { single: 0, leader: 0 };
    let phaseStart = 0;
    const enter = (name: PhaseName) => {
      if (phases.length > 0) phases[phases.length - 1]!.toS = since();
      phase = name;
      phaseStart = since();
      phases.push({ name, fromS: phaseStart, toS: phaseStart });
      log(`t=${phaseStart}s phase ${name}`);
    };
    const endOf = (fraction: number) => started + runMs * fraction;
    // Each fault starts from an operator that recovered from the one before: every lease current
    // (renewal not due) and its Secret holding that key. Without the wait, renewals an API server
    // restart held up could still be due when Secrets Manager goes down, two faults in one
    // window of (TTL - renewal point), which no renewal schedule survives.
    const recovered = async (): Promise<number | null> => {
      const from = Date.now();
      while (Date.now() - from < ttl * 1000) {
        try {
          const [leases, secrets] = await Promise.all([listLeases(), listSecrets()]);
          const held = new Map(
            secrets.map((s) => [
              s.metadata?.name ?? '',
              Buffer.from(s.data?.service_id ?? '', 'base64').toString(),
            ]),
          );
          const now = Date.now();
          const current = leases.filter((l) => {
            const c = l.status?.current;
            return (
              c !== undefined &&
              Date.parse(c.renewAt) > now &&
              held.get(`${l.metadata.name}-creds`) === c.serviceId
            );
          });
          if (leases.length === options.leases && current.length === leases.length) {
            return Math.round((Date.now() - from) / 100) / 10;
          }
        } catch {
          // The API server may still refuse: try again.
        }
        await sleep(500);
      }
      return null;
    };

    enter('kill-single');
    for (;;) {
      const at = Date.now() + between(killMin, killMax);
      if (at >= endOf(0.35)) break;
      await sleep(at - Date.now());
      await solo.kill();
      kills.single++;
      log(`t=${since()}s killed the operator (${kills.single})`);
      await sleep(between(downMin, downMax));
      solo.start();
    }
    await sleep(endOf(0.35) - Date.now());

    enter('kill-leader');
    await solo.retire('SIGKILL');
    kills.single++;
    const pair = [
      replica('a', [...baseArgs, ...electionArgs]),
      replica('b', [...baseArgs, ...electionArgs]),
    ];
    for (const r of pair) r.start();
    const leader = async (): Promise<Replica | undefined> => {
      try {
        const lease = await coordination.readNamespacedLease({ namespace, name: ELECTION_ID });
        const holder = lease.spec?.holderIdentity;
        return pair.find((r) => r.alive && holder && r.identity() === holder);
      } catch {
        return undefined;
      }
    };
    for (;;) {
      // A new leader first, then a random while of it leading.
      let current: Replica | undefined;
      while (!current && Date.now() < endOf(0.65)) {
        current = await leader();
        if (!current) await sleep(500);
      }
      const at = Date.now() + between(killMin, killMax);
      if (!current || at >= endOf(0.65)) break;
      await sleep(at - Date.now());
      if ((await leader()) !== current) continue;
      await current.kill();
      kills.leader++;
      log(`t=${since()}s killed the leader ${current.name} (${kills.leader})`);
      await sleep(between(downMin, downMax));
      current.start();
    }
    await sleep(endOf(0.65) - Date.now());
    const recovery: ChaosReport['recovery'] = { leaderKills: null, apiServerRestart: null };
    recovery.leaderKills = await recovered();
    log(`t=${since()}s leases current ${recovery.leaderKills}s after the last leader kill`);

    enter('apiserver-restart');
    await sleep(2_000);
    const downAt = Date.now();
    await cp.restartApiServer();
    const apiServerDownSeconds = Math.round((Date.now() - downAt) / 100) / 10;
    const leasesAfterApiRestart = (await listLeases()).length;
    log(`t=${since()}s API server back after ${apiServerDownSeconds}s`);
    recovery.apiServerRestart = await recovered();
    log(`t=${since()}s leases current ${recovery.apiServerRestart}s after the API server's return`);
    await sleep(endOf(0.8) - Date.now());

    enter('sm-outage');
    emulator.setFaults({ errorRate: 1, errorStatus: 503 });
    await sleep(outage * 1000);
    emulator.setFaults({ errorRate: 0 });
    log(`t=${since()}s Secrets Manager answers again`);
    // Long enough after the outage for a key it kept from renewal to be seen expiring.
    await sleep(Math.max(endOf(1), Date.now() + (ttl * 1000) / 3) - Date.now());
    phases[phases.length - 1]!.toS = since();

    sampling = false;
    await sampler;
    const runSeconds = (Date.now() - started) / 1000;
    const minted = emulator.counters().credentialsMinted;
    const need = Math.round(options.leases * (1 + runSeconds / (ttl * renewFraction)));

    // --- Delete every lease; what is still valid afterwards? ---
    log('deleting every lease');
    const deleteAt = Date.now();
    for (const name of names) {
      await custom.deleteNamespacedCustomObject({
        ...group,
        plural: PLURALS.IAMCredentialLease,
        namespace,
        name,
      });
    }
    let leasesLeft = names.length;
    while (Date.now() - deleteAt < 180_000) {
      leasesLeft = (await listLeases()).length;
      if (leasesLeft === 0) break;
      await sleep(500);
    }
    const deleteSeconds = Math.round((Date.now() - deleteAt) / 100) / 10;
    for (const k of emulator.mintedApiKeys()) keys.add(k);
    const now = Date.now();
    const left = emulator.credentials().filter((c) => c.state === 'active' && c.expiresAt > now);
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'reason=UnrecordedCredential',
    });
    for (const r of [...pair, solo]) await r.retire();
    const logs = readdirSync(logDir).map((f) => readLog(join(logDir, f)));
    // One report per lease and marker: the message names the marker's time, not the lease.
    const reports = new Set(
      events.items.map((e) => `${namespace}/${e.involvedObject.name}|${e.message ?? ''}`),
    );
    for (const text of logs) {
      for (const line of text.split('\n')) {
        if (!line.includes('possibly unrecorded credential')) continue;
        try {
          const entry = JSON.parse(line) as { resource?: unknown; message?: unknown };
          reports.add(`${String(entry.resource)}|${String(entry.message)}`);
        } catch {
          reports.add(line);
        }
      }
    }
    const leftValidWrongTtl = left.filter((c) => c.expiresAt - c.issuedAt > ttl * 1000).length;
    if (left.length > 0) {
      const until = Math.max(...left.map((c) => c.expiresAt)) + 1_500;
      log(
        `${left.length} keys left valid; waiting ${Math.round((until - Date.now()) / 1000)}s for their TTL`,
      );
      await sleep(Math.min(until - Date.now(), (ttl + 5) * 1000));
    }
    emulator.sweep();
    const validAfterTtl = [...keys].filter((k) => emulator.isApiKeyValid(k)).length;
    const keysInLogs = findKeys(logs, keys);
    const logBytes = logs.reduce((n, t) => n + Buffer.byteLength(t), 0);

    const result: ChaosReport = {
      leases: options.leases,
      ttlSeconds: ttl,
      graceSeconds: grace,
      renewFraction,
      outageSeconds: outage,
      runSeconds: Math.round(runSeconds),
      phases,
      kills,
      selfExits: replicas.reduce((n, r) => n + r.selfExits, 0),
      apiServerDownSeconds,
      leasesAfterApiRestart,
      recovery,
      ...report,
      minted,
      need,
      deleteSeconds,
      leasesLeft,
      leftValid: left.length,
      crashWindowReported: reports.size,
      leftValidUnreported: Math.max(0, left.length - reports.size),
      leftValidWrongTtl,
      validAfterTtl,
      keysTracked: keys.size,
      logBytes,
      keysInLogs,
      logDir: undefined,
    };
    if (goalsMissed(result).length > 0) keep = true;
    if (keep) result.logDir = dir;
    return result;
  } catch (err) {
    keep = true;
    throw err;
  } finally {
    for (const r of replicas) await r.retire('SIGKILL').catch(() => {});
    await em?.stop();
    await cp?.stop();
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** How many of `keys` occur in the logs, as they are or base64-encoded (as in a Secret's data). */
export function findKeys(logs: string[], keys: ReadonlySet<string>): number {
  const wanted = new Map<string, string>();
  for (const k of keys) {
    wanted.set(k, k);
    wanted.set(Buffer.from(k).toString('base64'), k);
  }
  const lengths = [...new Set([...wanted.keys()].map((k) => k.length))];
  const shortest = Math.min(...lengths);
  const found = new Set<string>();
  // Every run of key-like characters, checked window by window: linear in the log size.
  for (const text of logs) {
    for (const match of text.matchAll(/[A-Za-z0-9_\-+/=]+/g)) {
      const run = match[0];
      if (run.length < shortest) continue;
      for (const n of lengths) {
        for (let i = 0; i + n <= run.length; i++) {
          const hit = wanted.get(run.slice(i, i + n));
          if (hit) found.add(hit);
        }
      }
    }
  }
  return found.size;
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
