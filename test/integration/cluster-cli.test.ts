// `npm run cluster`: a control plane in the foreground that leaves nothing behind, however it ends.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/cluster.ts';

const execFileAsync = promisify(execFile);
const cli = join(import.meta.dirname, '..', 'controlplane', 'cli.ts');
const dirs: string[] = [];

/** Pids of processes whose command line mentions `dir` (every control-plane process does). */
async function processesUsing(dir: string): Promise<number[]> {
  const { stdout } = await execFileAsync('pgrep', ['-f', dir]).catch(() => ({ stdout: '' }));
  return stdout.split('\n').filter(Boolean).map(Number);
}

async function startCli(): Promise<{ child: ChildProcess; dir: string; output: () => string }> {
  const dir = mkdtempSync(join(tmpdir(), 'smo-cluster-cli-'));
  dirs.push(dir);
  const child = spawn(process.execPath, [cli, '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  await eventually(
    'the control plane to be healthy',
    async () => (output.includes('Press Ctrl-C') ? true : undefined),
    60_000,
  );
  return { child, dir, output: () => output };
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('npm run cluster', () => {
  it('writes a kubeconfig and the matching kubectl and helm, and stops cleanly on SIGTERM', async () => {
    const { child, dir, output } = await startCli();
    expect(existsSync(join(dir, 'bin', 'helm'))).toBe(true);
    const { stdout } = await execFileAsync(join(dir, 'bin', 'kubectl'), [
      '--kubeconfig',
      join(dir, 'kubeconfig'),
      'get',
      'namespace',
      'kube-system',
      '-o',
      'name',
    ]);
    expect(stdout.trim()).toBe('namespace/kube-system');
    expect(output()).toMatch(/healthy after \d+\.\d+s/);
    expect((await processesUsing(dir)).length).toBeGreaterThanOrEqual(3);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(await processesUsing(dir)).toEqual([]);
  });

  it('leaves no process behind when it is killed outright', async () => {
    const { child, dir } = await startCli();
    expect((await processesUsing(dir)).length).toBeGreaterThanOrEqual(3);
    child.kill('SIGKILL');
    await eventually(
      'the watchdog to stop etcd, kube-apiserver and kube-controller-manager',
      async () => ((await processesUsing(dir)).length === 0 ? true : undefined),
      30_000,
      250,
    );
  });
});
