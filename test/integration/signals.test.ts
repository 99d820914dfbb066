// `npm run cluster`, `npm run dev` and `npm start` started as users start them, through npm, and
// stopped the ways they get stopped: a signal to the npm process (`kill <pid>`, which npm
// forwards to its script), or the script's node process killed outright. Nothing that the run
// started may be left, and the time to get there is bounded.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createNamespace, eventually, kubeconfigPath } from './support/cluster.ts';

const root = join(import.meta.dirname, '..', '..');
/** How long everything may take to be gone after the signal (it takes ~1.5 s here). */
const STOP_BOUND_MS = 15_000;

interface Run {
  npm: ChildProcess;
  /** The file npm's script runs with node, and its pid once known. */
  script: string;
  scriptPid?: number;
  /** The dir or marker that every process of this run has on its command line. */
  marker: string;
  output: () => string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

const runs: Run[] = [];
const dirs: string[] = [];

/** Live processes whose command line mentions `marker` (zombies have none and do not count). */
function processesWith(marker: string): Array<{ pid: number; name: string }> {
  const found: Array<{ pid: number; name: string }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    if (argv.some((arg) => arg.includes(marker))) {
      found.push({ pid: Number(entry), name: basename(argv[0] ?? '?') });
    }
  }
  return found;
}

function npmRun(args: string[], script: string, marker: string, env: NodeJS.ProcessEnv = {}): Run {
  const npm = spawn('npm', args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  npm.stdout?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  npm.stderr?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  const run: Run = {
    npm,
    script,
    marker,
    output: () => output,
    exited: once(npm, 'exit') as Promise<[number | null, NodeJS.Signals | null]>,
  };
  runs.push(run);
  return run;
}

async function ready(run: Run, pattern: RegExp, timeoutMs: number): Promise<void> {
  await eventually(
    `${pattern} in the output`,
    async () => {
      if (run.npm.exitCode !== null) throw new Error(`npm exited early:\n${run.output()}`);
      return pattern.test(run.output()) ? true : undefined;
    },
    timeoutMs,
    200,
  );
}

/** Whether `pid` runs (an exited process waiting for init to reap it does not). */
function isRunning(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The node process running the script, under npm (its child when the script `exec`s node). */
function scriptProcess(run: Run, script: string): number {
  const parents = new Map<number, number>();
  const nodes: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // The script is node's first argument that is not a node flag (`npm start` passes some).
      const first = argv.slice(1).find((a) => !a.startsWith('-'));
      if (basename(argv[0] ?? '') === 'node' && first?.endsWith(script)) nodes.push(Number(entry));
    } catch {}
  }
  const under = (pid: number): boolean => {
    for (let p = parents.get(pid); p !== undefined && p > 1; p = parents.get(p)) {
      if (p === run.npm.pid) return true;
    }
    return false;
  };
  const found = nodes.find(under);
  if (found === undefined) throw new Error(`no node process running ${script} under npm`);
  run.scriptPid = found;
  return found;
}

/** Sends `signal` and returns how long it took until no process of the run was left. */
async function stopAndMeasure(run: Run, signal: NodeJS.Signals, pid: number): Promise<number> {
  const script = scriptProcess(run, run.script);
  const left = () => [
    ...processesWith(run.marker).map((p) => `${p.pid} ${p.name}`),
    ...[run.npm.pid as number, script].filter(isRunning).map((p) => `${p} (npm or its script)`),
  ];
  const started = Date.now();
  process.kill(pid, signal);
  await eventually(
    `no process of the run left after ${signal}`,
    async () => (left().length === 0 ? true : undefined),
    STOP_BOUND_MS,
    100,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; still running: ${left().join(', ')}`);
  });
  return Date.now() - started;
}

afterEach(() => {
  for (const run of runs.splice(0)) {
    const pids = processesWith(run.marker).map((p) => p.pid);
    if (run.scriptPid !== undefined && isRunning(run.scriptPid)) pids.push(run.scriptPid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager'];

describe('npm run cluster', () => {
  it.each([
    ['SIGTERM', 'npm'],
    ['SIGINT', 'npm'],
    ['SIGKILL', 'npm'],
    ['SIGKILL', 'node'],
  ] as const)('leaves nothing running after %s to the %s process', async (signal, target) => {
    const dir = tempDir('smo-signals-cluster-');
    const run = npmRun(['run', 'cluster', '--', '--dir', dir], 'cli.ts', dir);
    await ready(run, /Press Ctrl-C/, 120_000);
    const names = processesWith(dir).map((p) => p.name);
    for (const name of CONTROL_PLANE) expect(names).toContain(name);

    const pid = target === 'npm' ? (run.npm.pid as number) : scriptProcess(run, run.script);
    const tookMs = await stopAndMeasure(run, signal, pid);
    process.stderr.write(`npm run cluster, ${signal} to ${target}: all gone in ${tookMs} ms\n`);
    const [code, killedBy] = await run.exited;
    // A forwarded signal is a clean stop; npm reports one that killed its script outright.
    if (signal !== 'SIGKILL') expect({ code, killedBy }).toEqual({ code: 0, killedBy: null });
  });
});

describe('npm start', () => {
  it.each([
    ['SIGTERM', 'npm'],
    ['SIGINT', 'npm'],
  ] as const)('the operator exits after %s to the %s process', async (signal, target) => {
    const namespace = await createNamespace('signals');
    // A flag value only this run has, to find its processes by.
    const marker = `signals-${namespace}`;
    const run = npmRun(
      [
        'start',
        '--',
        `--kubeconfig=${kubeconfigPath()}`,
        '--leader-elect=false',
        `--leader-election-id=${marker}`,
        `--watch-namespaces=${namespace}`,
        '--metrics-bind-address=127.0.0.1:0',
        '--health-probe-bind-address=127.0.0.1:0',
      ],
      'main.ts',
      marker,
    );
    await ready(run, /"msg":"serving health probes"/, 60_000);
    expect(target).toBe('npm');
    const tookMs = await stopAndMeasure(run, signal, run.npm.pid as number);
    process.stderr.write(`npm start, ${signal} to ${target}: all gone in ${tookMs} ms\n`);
    expect(await run.exited).toEqual([0, null]);
    expect(run.output()).toContain('"msg":"signal received"');
  });
});

describe('npm run dev', () => {
  it.each([
    ['SIGTERM', 'npm'],
    ['SIGKILL', 'node'],
  ] as const)(
    'stops the control plane and the operator after %s to the %s process',
    {
      timeout: 240_000,
    },
    async (signal, target) => {
      const dir = tempDir('smo-signals-dev-');
      const run = npmRun(['run', 'dev'], 'dev.ts', dir, { SMO_DEV_DIR: dir });
      // Once the operator runs, everything the quickstart starts is up.
      await ready(run, /applying examples/, 180_000);
      const names = processesWith(dir).map((p) => p.name);
      for (const name of CONTROL_PLANE) expect(names).toContain(name);
      // The operator's command line names its kubeconfig in the dir.
      expect(names).toContain('node');

      const pid = target === 'npm' ? (run.npm.pid as number) : scriptProcess(run, run.script);
      const tookMs = await stopAndMeasure(run, signal, pid);
      process.stderr.write(`npm run dev, ${signal} to ${target}: all gone in ${tookMs} ms\n`);
    },
  );
});
