// The operator as its own process, as users run it (`npm start` = `node src/main.ts`, or the
// image's `node dist/main.js`), and what the kernel says about it: peak and current RSS from
// /proc/<pid>/status, CPU seconds from /proc/<pid>/stat, heap from its own /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, processStats } from './support.ts';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type ProcessSample = ReturnType<typeof processStats>;

/**
 * The Node flags `npm start` passes (`exec node <flags> src/main.ts` in package.json), which the
 * image's ENTRYPOINT passes too: the bench runs the operator with them, as users do.
 */
export function startFlags(): string[] {
  const words = startWords();
  return words.slice(words.indexOf('node') + 1, words.indexOf('src/main.ts'));
}

/**
 * The environment `npm start` sets before `exec` (`NAME=${NAME:-default}`: a value already in
 * the environment wins), which the image sets with ENV: the benches' operator gets it too.
 */
export function startEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const word of startWords()) {
    if (word === 'exec') break;
    const m = /^(\w+)=\$\{\1:-([^}]*)\}$/.exec(word);
    if (!m) throw new Error(`npm start: cannot read ${word} before exec`);
    const [, name, fallback] = m as unknown as [string, string, string];
    out[name] = env[name] ?? fallback;
  }
  return out;
}

/** The words of package.json's `start` script. */
function startWords(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
    scripts: { start: string };
  };
  return pkg.scripts.start.split(/\s+/);
}

/** `processStats`, or undefined once the process is gone. */
function sampleProcess(pid: number): ProcessSample | undefined {
  try {
    return processStats(pid);
  } catch {
    return undefined;
  }
}

export interface OperatorProcessOptions {
  kubeconfig: string;
  namespace: string;
  /** Run the compiled `dist/main.js` (the image's entry point) instead of `src/main.ts`. */
  dist?: boolean;
  /** Node flags after those of `npm start` (e.g. `--heapsnapshot-signal=SIGUSR2`). */
  nodeFlags?: readonly string[];
  /** Extra operator flags. */
  args?: readonly string[];
  /** Where stdout and stderr go (appended). */
  logFile: string;
  /** Working directory (heap snapshots land here). */
  cwd: string;
}

/** One operator process and its peak figures, sampled every `intervalMs`. */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly metricsUrl: string;
  readonly #cwd: string;
  #last: ProcessSample | undefined;
  #maxHeapMiB = 0;
  #timer: NodeJS.Timeout;
  #exited: Promise<number | null>;

  private constructor(child: ChildProcess, metricsUrl: string, cwd: string, intervalMs: number) {
    this.child = child;
    this.metricsUrl = metricsUrl;
    this.#cwd = cwd;
    this.#exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.#timer = setInterval(() => this.#sample(), intervalMs);
  }

  static async start(o: OperatorProcessOptions, intervalMs = 250): Promise<OperatorProcess> {
    const port = await freePort();
    const entry = o.dist ? join(ROOT, 'dist', 'main.js') : join(ROOT, 'src', 'main.ts');
    if (!existsSync(entry)) throw new Error(`${entry} does not exist (npm run build first)`);
    // The log file is the child's stdout itself, as a container runtime's reader would take it:
    // piped through this process, a busy bench stalled the operator's synchronous log writes.
    const log = openSync(o.logFile, 'a');
    const child = spawn(
      process.execPath,
      [
        ...startFlags(),
        ...(o.nodeFlags ?? []),
        entry,
        '--kubeconfig',
        o.kubeconfig,
        '--watch-namespaces',
        o.namespace,
        '--metrics-bind-address',
        `127.0.0.1:${port}`,
        '--health-probe-bind-address',
        '0',
        ...(o.args ?? []),
      ],
      {
        cwd: o.cwd,
        env: { ...process.env, ...startEnv(), POD_NAMESPACE: o.namespace },
        stdio: ['ignore', log, log],
      },
    );
    closeSync(log);
    return new OperatorProcess(child, `http://127.0.0.1:${port}/metrics`, o.cwd, intervalMs);
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** The latest sample (VmHWM is the kernel's own peak, so sampling misses nothing). */
  sample(): ProcessSample | undefined {
    this.#sample();
    return this.#last;
  }

  /** Highest `nodejs_heap_size_used_bytes` seen by `metrics()`, MiB. */
  get maxHeapUsedMiB(): number {
    return this.#maxHeapMiB;
  }

  /** The operator's /metrics as name{labels} -> summed value (undefined until it serves). */
  async metrics(): Promise<Map<string, number> | undefined> {
    try {
      const text = await (await fetch(this.metricsUrl)).text();
      const out = new Map<string, number>();
      for (const line of text.split('\n')) {
        if (line === '' || line.startsWith('#')) continue;
        const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
        if (!m) continue;
        const key = `${m[1]}${m[2] ?? ''}`;
        out.set(key, (out.get(key) ?? 0) + Number(m[3]));
      }
      const heap = out.get('nodejs_heap_size_used_bytes');
      if (heap !== undefined) this.#maxHeapMiB = Math.max(this.#maxHeapMiB, heap / 1048576);
      return out;
    } catch {
      return undefined;
    }
  }

  /** Sends SIGUSR2 (needs `--heapsnapshot-signal=SIGUSR2`) and returns the new file's path. */
  async heapSnapshot(timeoutMs = 120_000): Promise<string> {
    const before = new Set(snapshots(this.#cwd));
    this.child.kill('SIGUSR2');
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      const added = snapshots(this.#cwd).filter((f) => !before.has(f));
      // The file appears at once and is written over seconds; wait until its size settles.
      if (added[0]) {
        const path = join(this.#cwd, added[0]);
        let size = -1;
        for (;;) {
          await new Promise((r) => setTimeout(r, 1000));
          const now = readFileSync(path).length;
          if (now === size && now > 0) return path;
          size = now;
        }
      }
    }
    throw new Error('no heap snapshot written');
  }

  /** SIGTERM, then the exit code. */
  async stop(): Promise<number | null> {
    this.#sample();
    clearInterval(this.#timer);
    this.child.kill('SIGTERM');
    return this.#exited;
  }

  #sample(): void {
    const s = sampleProcess(this.pid);
    if (s) this.#last = s;
  }
}

function snapshots(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot'));
}
