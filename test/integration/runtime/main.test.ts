// `npm start` (node src/main.ts) against the real API server: it starts, elects itself,
// serves /metrics, /healthz and /readyz, and exits cleanly on SIGTERM with the Lease released.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, eventually, kubeConfig, kubeconfigPath } from '../support/cluster.ts';

const main = new URL('../../../src/main.ts', import.meta.url).pathname;

interface Operator {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  stderr: string;
  exited: Promise<number | null>;
}

const started: Operator[] = [];

function startOperator(args: string[]): Operator {
  const child = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const op: Operator = {
    child,
    lines: [],
    stderr: '',
    exited: once(child, 'exit').then(([code]) => code as number | null),
  };
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      op.lines.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      op.lines.push({ msg: line });
    }
  });
  child.stderr!.on('data', (b: Buffer) => {
    op.stderr += b.toString();
  });
  started.push(op);
  return op;
}

function logged(op: Operator, msg: string): Record<string, unknown> | undefined {
  return op.lines.find((l) => l.msg === msg);
}

afterEach(() => {
  for (const op of started.splice(0)) if (op.child.exitCode === null) op.child.kill('SIGKILL');
});

let namespace: string;

beforeAll(async () => {
  namespace = await createNamespace('rt-main');
});

describe('npm start', () => {
  it('starts, leads, serves metrics and probes, and on SIGTERM exits 0 having released the Lease', async () => {
    const op = startOperator([
      '--kubeconfig',
      kubeconfigPath(),
      '--leader-elect',
      '--leader-election-namespace',
      namespace,
      '--leader-election-id',
      'main-test',
      '--watch-namespaces',
      namespace,
      '--metrics-bind-address',
      '127.0.0.1:0',
      '--health-probe-bind-address=127.0.0.1:0',
    ]);
    const metricsAt = await eventually(
      'the metrics address',
      async () => logged(op, 'serving metrics')?.address,
    );
    const probesAt = await eventually(
      'the probe address',
      async () => logged(op, 'serving health probes')?.address,
    );
    await eventually('leadership', async () => logged(op, 'became the leader'));

    const healthz = await fetch(`http://${probesAt}/healthz`);
    expect(healthz.status).toBe(200);
    const readyz = await eventually('readiness', async () => {
      const res = await fetch(`http://${probesAt}/readyz?verbose`);
      return res.status === 200 ? res.text() : undefined;
    });
    expect(readyz).toContain('[+]leader-election ok');
    const metrics = await (await fetch(`http://${metricsAt}/metrics`)).text();
    expect(metrics).toMatch(/^secrets_manager_operator_leader 1$/m);
    expect(metrics).toContain('# TYPE secrets_manager_operator_reconcile_total counter');
    expect(metrics).toContain('process_cpu_seconds_total');

    const leases = kubeConfig().makeApiClient(CoordinationV1Api);
    const held = await leases.readNamespacedLease({ namespace, name: 'main-test' });
    expect(held.spec?.holderIdentity).toBeTruthy();

    op.child.kill('SIGTERM');
    expect(await op.exited).toBe(0);
    expect(logged(op, 'released the lease')).toBeDefined();
    const released = await leases.readNamespacedLease({ namespace, name: 'main-test' });
    expect(released.spec?.holderIdentity ?? '').toBe('');
    expect(op.stderr).toBe('');
  });

  it('exits 2 with a one-line error on bad configuration', async () => {
    const op = startOperator(['--kubeconfig', kubeconfigPath(), '--concurrency', 'many']);
    expect(await op.exited).toBe(2);
    expect(op.stderr).toBe(
      'secrets-manager-operator: invalid configuration: --concurrency must be a whole number (got "many")\n',
    );
  });

  it('exits 2 asking for a Lease namespace when electing outside a cluster', async () => {
    const op = startOperator(['--kubeconfig', kubeconfigPath(), '--leader-elect']);
    expect(await op.exited).toBe(2);
    expect(op.stderr.trim().split('\n')).toHaveLength(1);
    expect(op.stderr).toContain('--leader-election-namespace');
  });
});
