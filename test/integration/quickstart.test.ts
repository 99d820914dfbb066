// `npm run dev`, the quickstart: every example becomes Ready, values are masked, and Ctrl-C
// leaves nothing running.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { eventually } from './support/cluster.ts';

const execFileAsync = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'smo-quickstart-'));
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/**
 * metadata.name of every ExternalSecret and IAMCredentialLease in examples/, and of each
 * ClusterExternalSecret (its ExternalSecret, in the quickstart namespace labelled team=...).
 */
function exampleResources(): string[] {
  const names: string[] = [];
  for (const file of readdirSync(join(root, 'examples'))) {
    const text = readFileSync(join(root, 'examples', file), 'utf8');
    for (const doc of text.split(/^---$/m)) {
      if (!/^kind:\s*(ExternalSecret|IAMCredentialLease|ClusterExternalSecret)\s*$/m.test(doc)) {
        continue;
      }
      const name = /^metadata:\s*\n\s+name:\s*(\S+)/m.exec(doc)?.[1];
      if (name) names.push(name);
    }
  }
  return names;
}

it('brings every example to Ready, masks the values and cleans up on Ctrl-C', {
  timeout: 240_000,
}, async () => {
  child = spawn(process.execPath, [join(root, 'test', 'dev', 'dev.ts')], {
    env: { ...process.env, SMO_DEV_DIR: dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    output += b.toString();
  });
  await eventually(
    'the quickstart to settle',
    async () => (/Press Ctrl-C|npm run dev failed/.test(output) ? true : undefined),
    // Start-up (~20 s here) plus up to 120 s the quickstart waits for every resource.
    180_000,
    250,
  );
  expect(output).not.toContain('npm run dev failed');
  const expected = exampleResources();
  expect(expected.length).toBeGreaterThan(5);
  for (const name of expected) expect(output).toMatch(new RegExp(`/${name}: Ready \\(`));
  // Values are masked: the sample seed's database URL never shows.
  expect(output).toMatch(/\*{8} \(\d+ bytes\)/);
  expect(output).not.toContain('s3cr3t-sample');

  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
  const { stdout } = await execFileAsync('pgrep', ['-f', dir]).catch(() => ({ stdout: '' }));
  expect(stdout.trim()).toBe('');
});
