import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange, vaultLogin } from './testing.ts';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const SAMPLE = fileURLToPath(new URL('./sample-seed.yaml', import.meta.url));

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

function run(args: string[]): { proc: ChildProcess; stdout: () => string; stderr: () => string } {
  const proc = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout?.on('data', (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr?.on('data', (c: Buffer) => {
    err += c.toString();
  });
  child = proc;
  return { proc, stdout: () => out, stderr: () => err };
}

async function urlOf(stdout: () => string, proc: ChildProcess): Promise<string> {
  for (;;) {
    const m = /listening on (http:\/\/\S+)/.exec(stdout());
    if (m) return m[1]!;
    if (proc.exitCode !== null) throw new Error('the emulator exited before listening');
    await once(proc.stdout!, 'data');
  }
}

describe('the emulator CLI', () => {
  it('prints its URL, serves the seed with the given Manager key, and stops cleanly on SIGTERM', async () => {
    const { proc, stdout } = run([
      '--port',
      '0',
      '--api-key',
      'cli-manager-key',
      '--seed',
      SAMPLE,
      '--lease-ids',
    ]);
    const url = await urlOf(stdout, proc);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const vt = await vaultLogin(url, 'cli-manager-key');
    const res = await fetch(`${url}/v1/ibmcloud/iam_credentials/creds/storage-bucket-writer`, {
      headers: { 'x-vault-token': vt },
    });
    const body = (await res.json()) as { lease_id: string };
    expect(body.lease_id).not.toBe('');
    proc.kill('SIGTERM');
    const [code] = await once(proc, 'exit');
    expect(code).toBe(0);
    expect(stdout()).toContain('stopped');
  }, 30_000);

  it('applies fault flags', async () => {
    const { proc, stdout } = run([
      '--port',
      '0',
      '--api-key',
      'k',
      '--rate-limit-rate',
      '1',
      '--retry-after',
      '3',
    ]);
    const url = await urlOf(stdout, proc);
    const res = await exchange(url, 'k');
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('3');
    proc.kill('SIGINT');
    expect((await once(proc, 'exit'))[0]).toBe(0);
  }, 30_000);

  it('exits with 2 and the usage on bad arguments', async () => {
    const { proc, stderr } = run(['--port', 'eighty']);
    const [code] = await once(proc, 'exit');
    expect(code).toBe(2);
    expect(stderr()).toContain('Usage: npm run emulator');
  }, 30_000);
});
