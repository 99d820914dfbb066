// Runs the operator the way the chart's Deployment would, where no kubelet runs: the container's
// args and env are read from the installed Deployment object, the image's entry point is
// replaced by `node src/main.ts` from the working tree, and the in-cluster credentials by a
// kubeconfig holding a TokenRequest token of the chart's ServiceAccount.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { KubeConfig, V1Container, V1Deployment } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { type ClusterTools, REPO_ROOT } from './chart.ts';

export interface Endpoint {
  path: string;
  port: number;
}

/** What the kubelet would run for the Deployment's first container. */
export interface PodCommand {
  container: string;
  args: string[];
  env: Record<string, string>;
  /** Container ports by name. */
  ports: Record<string, number>;
  liveness: Endpoint;
  readiness: Endpoint;
  serviceAccountName: string;
}

/**
 * Resolves the Deployment's pod template as the kubelet would for a pod named `podName` in
 * `namespace`: env values and the downward-API fields the chart uses, named probe ports. Anything
 * else it cannot emulate faithfully throws, so a chart change the test cannot follow is noticed.
 */
export function podCommand(deployment: V1Deployment, podName: string): PodCommand {
  const namespace = deployment.metadata?.namespace ?? 'default';
  const spec = deployment.spec?.template.spec;
  const container: V1Container | undefined = spec?.containers[0];
  if (!spec || !container) throw new Error('the Deployment has no container');
  if (container.command?.length) {
    throw new Error(
      'the chart overrides the image entry point; the test runs src/main.ts in its place',
    );
  }
  const env: Record<string, string> = {};
  for (const variable of container.env ?? []) {
    if (variable.value !== undefined) {
      env[variable.name] = variable.value;
      continue;
    }
    const field = variable.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.namespace') env[variable.name] = namespace;
    else if (field === 'metadata.name') env[variable.name] = podName;
    else throw new Error(`cannot emulate the env variable ${variable.name} here`);
  }
  const ports: Record<string, number> = {};
  for (const port of container.ports ?? []) if (port.name) ports[port.name] = port.containerPort;
  const endpoint = (probe: V1Container['livenessProbe'], what: string): Endpoint => {
    const get = probe?.httpGet;
    if (!get?.path) throw new Error(`the ${what} probe is not an HTTP GET`);
    const port = typeof get.port === 'number' ? get.port : ports[get.port];
    if (port === undefined) throw new Error(`the ${what} probe names an unknown port ${get.port}`);
    return { path: get.path, port };
  };
  return {
    container: container.name,
    args: container.args ?? [],
    env,
    ports,
    liveness: endpoint(container.livenessProbe, 'liveness'),
    readiness: endpoint(container.readinessProbe, 'readiness'),
    serviceAccountName: spec.serviceAccountName ?? 'default',
  };
}

/**
 * A kubeconfig whose user is a bound token of the ServiceAccount (TokenRequest API through
 * `kubectl create token`), against the cluster of `admin`.
 */
export async function serviceAccountKubeconfig(
  tools: ClusterTools,
  admin: KubeConfig,
  namespace: string,
  serviceAccount: string,
  path: string,
): Promise<string> {
  const token = (
    await tools.kubectl(['create', 'token', serviceAccount, '-n', namespace, '--duration', '2h'])
  ).trim();
  const cluster = admin.getCurrentCluster();
  if (!cluster?.caData) throw new Error('the admin kubeconfig has no inline CA');
  const user = `system:serviceaccount:${namespace}:${serviceAccount}`;
  writeFileSync(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'cluster',
          cluster: { server: cluster.server, 'certificate-authority-data': cluster.caData },
        },
      ],
      users: [{ name: user, user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'cluster', user, namespace } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return path;
}

/**
 * Preloaded into the operator process: it exits when its stdin (a pipe from this process) closes,
 * so an operator never outlives a test runner that was killed outright.
 */
const EXIT_WITH_PARENT = `data:text/javascript,${encodeURIComponent(
  "process.stdin.on('end', () => process.exit(1)).resume();",
)}`;

export interface OperatorProcess {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  /** SIGTERM (as the kubelet sends), then SIGKILL after `timeoutMs`. */
  stop(timeoutMs?: number): Promise<number | null>;
}

/**
 * Starts `node src/main.ts <the container's args>` with only the container's environment plus
 * KUBECONFIG (the stand-in for the mounted ServiceAccount token). Bind addresses without a host
 * (`:8080`, all interfaces in a pod) are bound to 127.0.0.1 here.
 */
export function startOperatorProcess(command: PodCommand, kubeconfig: string): OperatorProcess {
  const args = command.args.map((arg) =>
    arg.replace(/^(--(?:metrics|health-probe)-bind-address)=:(\d+)$/, '$1=127.0.0.1:$2'),
  );
  const child = spawn(process.execPath, ['--import', EXIT_WITH_PARENT, 'src/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...command.env, KUBECONFIG: kubeconfig, NODE_ENV: 'production' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout?.on('data', (b: Buffer) => chunks.push(b.toString()));
  child.stderr?.on('data', (b: Buffer) => chunks.push(b.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    output: () => chunks.join(''),
    exited,
    async stop(timeoutMs = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** GET http://127.0.0.1:<port><path>: the status code, or 0 when nothing answers. */
export async function probe(endpoint: Endpoint): Promise<number> {
  try {
    const response = await fetch(`http://127.0.0.1:${endpoint.port}${endpoint.path}`);
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}
