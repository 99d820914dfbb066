// A node leaves nothing behind when its owner is killed outright: `npm run cluster -- --node` is
// started (a second node beside the suite's own, which also shows that two runs do not collide),
// a pod is run on it, the CLI gets SIGKILL, and then no process, cgroup, network device, mount or
// run record of that node may remain.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterTools } from '../integration/helm/chart.ts';
import { eventually } from '../integration/support/cluster.ts';

const CLI = fileURLToPath(new URL('../controlplane/cli.ts', import.meta.url));
const REGISTRY = '/run/smo-node/runs';

function record(stateDir: string): Record<string, string> | undefined {
  for (const name of existsSync(REGISTRY) ? readdirSync(REGISTRY) : []) {
    const text = readFileSync(join(REGISTRY, name), 'utf8');
    const fields = Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]),
    );
    if (fields.state_dir === stateDir) return fields;
  }
  return undefined;
}

/** Processes whose command line or cgroup names the node. */
function processesOf(dir: string, cgroup: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
      const cgroups = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
      if (cmdline.includes(dir) || cgroups.includes(cgroup)) found.push(`${pid} ${cmdline}`);
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function cgroupDirs(cgroup: string): string[] {
  return readdirSync('/sys/fs/cgroup')
    .map((h) => join('/sys/fs/cgroup', h, cgroup))
    .filter((d) => existsSync(d));
}

describe('a node whose owner is killed with SIGKILL', () => {
  const dir = mkdtempSync(join(tmpdir(), 'smo-teardown-'));
  let cli: ChildProcess | undefined;

  afterAll(() => {
    if (cli && cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no process, cgroup, network device, mount or record behind', async () => {
    const podManifest = join(dir, 'pod.json');
    writeFileSync(
      podManifest,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'doomed', namespace: 'default' },
        spec: {
          containers: [
            {
              name: 'sleep',
              image: 'docker.io/library/busybox:1.36',
              imagePullPolicy: 'Never',
              command: ['sleep', '3600'],
            },
          ],
        },
      }),
    );
    cli = spawn(process.execPath, [CLI, '--dir', dir, '--node'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    cli.stdout?.on('data', (b: Buffer) => {
      output += b.toString();
    });
    cli.stderr?.on('data', (b: Buffer) => {
      output += b.toString();
    });
    await eventually(
      'the cluster CLI with a node up',
      async () => {
        if (cli?.exitCode !== null) throw new Error(`the CLI exited:\n${output}`);
        return output.includes('Press Ctrl-C') ? true : undefined;
      },
      300_000,
      250,
    );
    const rec = record(join(dir, 'node'));
    expect(rec).toBeDefined();
    const cgroup = rec?.cgroup ?? '?';
    const hostInterface = rec?.host_interface ?? '?';
    const tools = new ClusterTools({
      helm: join(dir, 'bin', 'helm'),
      kubectl: join(dir, 'bin', 'kubectl'),
      kubeconfig: join(dir, 'kubeconfig'),
    });
    // A pod, so there are containers, mounts and pod network devices to clean up.
    await tools.kubectl(['apply', '-f', podManifest]);
    await tools.kubectl(['wait', '--for=condition=Ready', 'pod/doomed', '--timeout=120s']);
    expect(existsSync(`/sys/class/net/${hostInterface}`)).toBe(true);
    expect(cgroupDirs(cgroup).length).toBeGreaterThan(0);
    expect(processesOf(dir, cgroup).length).toBeGreaterThan(3);

    const exited = once(cli, 'exit');
    cli.kill('SIGKILL');
    await exited;

    await eventually(
      'everything of the node gone',
      async () => {
        const left = [
          ...processesOf(dir, cgroup),
          ...cgroupDirs(cgroup),
          ...(existsSync(`/sys/class/net/${hostInterface}`) ? [hostInterface] : []),
          ...readFileSync('/proc/self/mountinfo', 'utf8')
            .split('\n')
            .filter((l) => l.includes(dir)),
          ...(record(join(dir, 'node')) ? ['run record'] : []),
        ];
        return left.length === 0 ? true : undefined;
      },
      60_000,
      500,
    );
  }, 420_000);
});
