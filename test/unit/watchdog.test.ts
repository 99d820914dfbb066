// The dev scripts' watchdog: what a launcher started dies with it, even when it is SIGKILLed.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const watchdog = join(import.meta.dirname, '..', 'controlplane', 'watchdog.ts');
const leftovers: number[] = [];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pid: number, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (alive(pid)) {
    if (Date.now() - started > timeoutMs) throw new Error(`pid ${pid} still alive`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

/** A launcher that starts `sleep` (ignoring SIGTERM when asked), watches it, and prints its pid. */
async function launcher(opts: { disarm?: boolean; ignoreTerm?: boolean } = {}) {
  const program = `
    import { spawn } from 'node:child_process';
    import { startWatchdog } from ${JSON.stringify(watchdog)};
    const w = startWatchdog(1);
    const cmd = ${JSON.stringify(opts.ignoreTerm ? "trap '' TERM; while :; do sleep 0.2; done" : 'exec sleep 300')};
    const child = spawn('sh', ['-c', cmd], { stdio: 'ignore', detached: true });
    child.unref();
    w.watch(child.pid);
    ${opts.disarm ? 'w.disarm();' : ''}
    process.stdout.write(child.pid + '\\n');
    setInterval(() => {}, 1000);
  `;
  const parent: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', program], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [chunk] = (await once(parent.stdout as NodeJS.ReadableStream, 'data')) as [Buffer];
  const pid = Number(chunk.toString().trim());
  leftovers.push(pid);
  return { parent, pid };
}

afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

describe('watchdog', () => {
  it('stops a watched process at once when the launcher is SIGKILLed', async () => {
    const { parent, pid } = await launcher();
    expect(alive(pid)).toBe(true);
    parent.kill('SIGKILL');
    // No grace period applies (sleep obeys SIGTERM); the bound is loose for a loaded machine.
    await gone(pid, 10_000);
  }, 15_000);

  it('follows up with SIGKILL when SIGTERM is ignored', async () => {
    const { parent, pid } = await launcher({ ignoreTerm: true });
    parent.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(alive(pid)).toBe(true);
    // SIGKILL follows the 1 s grace; loose bound for a loaded machine.
    await gone(pid, 10_000);
  }, 15_000);

  it('leaves processes alone once disarmed after a clean stop', async () => {
    const { parent, pid } = await launcher({ disarm: true });
    parent.kill('SIGKILL');
    await once(parent, 'exit');
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(pid)).toBe(true);
  });
});
