/**
 * Throughput of the client against the emulator running in another process:
 *   node src/secretsmanager/client.bench.ts [seconds-per-case]
 * Prints reads per second for sequential reads, concurrent distinct reads (limited by the
 * client's per-store concurrency), and how many requests 1,000 identical concurrent reads cost.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createSecretsManagerClient } from './client.ts';

const KEY = 'bench-manager-key-0123456789';
const seconds = Number(process.argv[2] ?? 3);
const cli = fileURLToPath(new URL('../emulator/cli.ts', import.meta.url));
const seed = fileURLToPath(new URL('../emulator/sample-seed.yaml', import.meta.url));

const emulator = spawn(process.execPath, [cli, '--port', '0', '--api-key', KEY, '--seed', seed], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
emulator.stdout.setEncoding('utf8');
const url = await new Promise<string>((resolve, reject) => {
  emulator.stdout.on('data', (chunk: string) => {
    out += chunk;
    const m = /http:\/\/127\.0\.0\.1:\d+/.exec(out);
    if (m) resolve(m[0]);
  });
  emulator.once('exit', () => reject(new Error(`emulator exited: ${out}`)));
});

const client = createSecretsManagerClient({
  url,
  iamUrl: url,
  apiKey: KEY,
  rateLimit: { qps: 1_000_000, burst: 1_000_000 },
  concurrency: 32,
});

try {
  const secrets = (await client.listSecrets()).filter((m) => m.type !== 'iam_credentials');
  const ref = (i: number) => {
    const m = secrets[i % secrets.length]!;
    return { type: m.type, id: m.id, group: m.groupId };
  };

  async function rate(name: string, inFlight: number) {
    let n = 0;
    const end = Date.now() + seconds * 1000;
    const worker = async (w: number) => {
      for (let i = w; Date.now() < end; i += inFlight) {
        await client.getSecret(ref(i));
        n++;
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: inFlight }, (_, w) => worker(w)));
    const perSecond = Math.round(n / ((Date.now() - t0) / 1000));
    console.log(`${name.padEnd(40)} ${String(perSecond).padStart(7)} reads/s`);
  }

  await rate('warm-up', 8);
  await rate('sequential reads', 1);
  await rate('concurrent distinct reads (32 in flight)', 32);

  type Counters = { requests: Record<string, Record<string, number>> };
  const reads = async () => {
    const c = (await (await fetch(`${url}/__emulator/counters`)).json()) as Counters;
    const byStatus = c.requests['GET /v1/ibmcloud/arbitrary/secrets/{id}'] ?? {};
    return Object.values(byStatus).reduce((a, b) => a + b, 0);
  };
  const arbitrary = secrets.find((s) => s.type === 'arbitrary' && s.groupId === 'default')!;
  const same = { type: 'arbitrary' as const, id: arbitrary.id };
  const before = await reads();
  await Promise.all(Array.from({ length: 1000 }, () => client.getSecret(same)));
  console.log(`1000 identical concurrent reads cost ${(await reads()) - before} request(s)`);
} finally {
  await client.close();
  emulator.kill('SIGTERM');
  await once(emulator, 'exit');
}
