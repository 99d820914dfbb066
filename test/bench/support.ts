// What the benchmarks share: a control plane (reused from SMO_TEST_KUBECONFIG or started for the
// run), a SecretStore on the emulator, percentiles, a resumable watch, and the CPU and memory of
// a process from /proc.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type CoreV1Api, type CustomObjectsApi, KubeConfig, Watch } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { installCrds } from '../integration/support/crds.ts';

export const say = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

/** The value at fraction `p` of an ascending list (NaN when empty). */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
}

export interface BenchCluster {
  kubeconfigPath: string;
  /** The control plane's processes, when the run started them (not for a reused cluster). */
  processes?: () => Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

/**
 * SMO_TEST_KUBECONFIG reuses a running control plane (`npm run cluster -- --dir .tmp/c`);
 * otherwise one is started for the run (and built the first time). CRDs are installed either way.
 */
export async function benchCluster(
  label: string,
  log: (line: string) => unknown = say,
): Promise<BenchCluster> {
  const existing = process.env.SMO_TEST_KUBECONFIG;
  if (existing) {
    const kc = new KubeConfig();
    kc.loadFromFile(existing);
    await installCrds(kc, label);
    return { kubeconfigPath: existing, stop: async () => {} };
  }
  return startControlPlane({
    log: (line) => log(`  [control plane] ${line}`),
    beforeControllers: async (path) => {
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      await installCrds(kc, label);
    },
  });
}

interface WatchedObject {
  metadata: { name: string; resourceVersion?: string };
}

/**
 * A watch of one collection that resumes from the last resourceVersion it saw when the server
 * ends it (watches are closed every 30-60 minutes), so no event is lost or seen twice.
 */
export class ResumingWatch<T extends WatchedObject> {
  readonly #kc: KubeConfig;
  readonly #path: string;
  readonly #query: Record<string, string>;
  readonly #onEvent: (type: string, obj: T) => void;
  #resourceVersion: string | undefined;
  #abort: { abort(): void } | undefined;
  #stopped = false;

  constructor(
    kc: KubeConfig,
    path: string,
    query: Record<string, string>,
    onEvent: (type: string, obj: T) => void,
  ) {
    this.#kc = kc;
    this.#path = path;
    this.#query = query;
    this.#onEvent = onEvent;
  }

  async start(): Promise<void> {
    if (this.#stopped) return;
    const query = {
      ...this.#query,
      allowWatchBookmarks: 'true',
      ...(this.#resourceVersion ? { resourceVersion: this.#resourceVersion } : {}),
    };
    this.#abort = await new Watch(this.#kc).watch(
      this.#path,
      query,
      (type: string, obj: T) => {
        if (obj.metadata.resourceVersion) this.#resourceVersion = obj.metadata.resourceVersion;
        if (type !== 'BOOKMARK') this.#onEvent(type, obj);
      },
      () => {
        if (!this.#stopped) setTimeout(() => void this.start().catch(() => {}), 200);
      },
    );
  }

  stop(): void {
    this.#stopped = true;
    this.#abort?.abort();
  }
}

/** Resolves when `check` returns true, polling every `everyMs`; rejects after `timeoutMs`. */
export async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * CPU seconds (user + system), peak resident memory (VmHWM, MiB) and resident memory now (VmRSS,
 * MiB) of a live process.
 */
export function processStats(pid: number): {
  cpuSeconds: number;
  peakRssMiB: number;
  rssMiB: number;
} {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted after the command name: indexes 11, 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
  const rss = /VmRSS:\s+(\d+) kB/.exec(status);
  return {
    cpuSeconds: ticks / 100,
    peakRssMiB: Number(hwm?.[1] ?? 0) / 1024,
    rssMiB: Number(rss?.[1] ?? 0) / 1024,
  };
}

/** CPU seconds of named processes at one moment, to tell how a stretch of a run shared the CPU. */
export interface CpuSnapshot {
  at: number;
  seconds: Map<string, number>;
}

export function cpuSnapshot(processes: Array<{ name: string; pid: number }>): CpuSnapshot {
  const seconds = new Map<string, number>();
  for (const { name, pid } of processes) {
    try {
      seconds.set(name, (seconds.get(name) ?? 0) + processStats(pid).cpuSeconds);
    } catch {
      // Exited in the meantime: not counted.
    }
  }
  return { at: performance.now(), seconds };
}

/** CPU seconds each process used between two snapshots, and the cores that makes (busiest first). */
export function cpuBetween(
  before: CpuSnapshot,
  after: CpuSnapshot,
): Array<{ name: string; seconds: number; cores: number }> {
  const wall = (after.at - before.at) / 1000;
  return [...after.seconds]
    .filter(([name]) => before.seconds.has(name))
    .map(([name, end]) => {
      const seconds = end - (before.seconds.get(name) as number);
      return { name, seconds, cores: seconds / wall };
    })
    .sort((a, b) => b.seconds - a.seconds);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `task` over `items` with at most `limit` in flight. */
export async function inParallel<T>(
  items: T[],
  limit: number,
  task: (item: T, index: number) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * The SecretStore `sm` in `namespace`, on the emulator at `url`, with its API key in the Secret
 * `sm-api-key`; `spec` adds to the store's spec (rateLimit, pollInterval).
 */
export async function createBenchStore(
  api: { core: CoreV1Api; custom: CustomObjectsApi },
  o: { namespace: string; url: string; apiKey: string; spec?: Record<string, unknown> },
): Promise<void> {
  await api.core.createNamespacedSecret({
    namespace: o.namespace,
    body: { metadata: { name: 'sm-api-key' }, stringData: { apikey: o.apiKey } },
  });
  await api.custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.SecretStore,
    namespace: o.namespace,
    body: {
      apiVersion: API_VERSION,
      kind: 'SecretStore',
      metadata: { name: 'sm' },
      spec: {
        secretsManager: {
          url: o.url,
          iamUrl: o.url,
          auth: { apiKey: { secretRef: { name: 'sm-api-key', key: 'apikey' } } },
        },
        ...o.spec,
      },
    },
  });
}

/**
 * The operator entry point a bench runs: by default the image's `dist/main.js`, compiled first
 * (`npm run build`) so that it is the code being measured; with `src`, `src/main.ts` as
 * `npm start` runs it (Node strips the types at load, which costs ~100 MiB of RSS of its own).
 */
export function operatorEntry(src: boolean): 'src/main.ts' | 'dist/main.js' {
  if (src) return 'src/main.ts';
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const built = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (built.status !== 0) throw new Error(`npm run build failed (${built.status ?? built.signal})`);
  return 'dist/main.js';
}
