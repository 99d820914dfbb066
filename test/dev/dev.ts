// `npm run dev`: the whole thing on one machine, no cloud account needed.
//
// A local control plane, the Secrets Manager emulator preloaded with sample secrets of every
// type, the CRDs, the operator (from this working tree), and `examples/` applied; then it prints
// what happened and how to poke at it, and runs until Ctrl-C.
//
// `npm run dev -- --node` (Linux, root) adds a real node: the examples' Pod and Deployments run
// on it, so `kubectl exec` into a pod shows the mounted Secret.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../src/api/group.ts';
import { loadSeedFile, startEmulator } from '../../src/emulator/index.ts';
import { freePorts, startControlPlane } from '../controlplane/controlplane.ts';
import { startClusterWithNode } from '../controlplane/node.ts';
import { startWatchdog, whenOrphaned } from '../controlplane/watchdog.ts';
import { installCrds } from '../integration/support/crds.ts';

const execFileAsync = promisify(execFile);
const root = resolve(import.meta.dirname, '..', '..');
// SMO_DEV_DIR moves the state (tests run the quickstart without touching a user's .tmp/dev).
const state = resolve(process.env.SMO_DEV_DIR ?? join(root, '.tmp', 'dev'));
const namespace = 'default';
const storeNamespace = 'secrets-manager-system';
const apiKey = 'dev-manager-api-key';
const withNode = process.argv.includes('--node');

const say = (line = '') => process.stdout.write(`${line}\n`);
const step = (line: string) => process.stdout.write(`\x1b[1m==>\x1b[0m ${line}\n`);

interface Running {
  stop(): Promise<void>;
}
const running: Running[] = [];
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    step('stopping');
    for (const r of running.reverse()) await r.stop().catch(() => {});
    watchdog.disarm();
  }
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
// `npm run` killed outright forwards nothing.
whenOrphaned(() => void shutdown(0));
// The operator is stopped with us even when we are killed outright (the control plane has its own).
const watchdog = startWatchdog();

try {
  rmSync(state, { recursive: true, force: true });
  mkdirSync(state, { recursive: true });

  step(
    `starting a local control plane${withNode ? ' and a node' : ''} (the first run builds it from Go modules: minutes)`,
  );
  const clusterOptions = {
    dir: join(state, 'cluster'),
    log: (line: string) => say(`    ${line}`),
    beforeControllers: async (path: string) => {
      const kc = new KubeConfig();
      kc.loadFromFile(path);
      await installCrds(kc, 'npm-run-dev');
    },
  };
  const cluster = withNode ? await startClusterWithNode(clusterOptions) : undefined;
  const cp = cluster?.controlPlane ?? (await startControlPlane(clusterOptions));
  running.push(cluster ?? cp);
  const bin = join(state, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['kubectl', 'helm']) copyFileSync(join(cp.binDir, tool), join(bin, tool));
  const kubectl = join(bin, 'kubectl');
  const kc = new KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const core = kc.makeApiClient(CoreV1Api);
  const custom = kc.makeApiClient(CustomObjectsApi);

  step('starting the Secrets Manager emulator with the sample secrets');
  const seedPath = join(root, 'src', 'emulator', 'sample-seed.yaml');
  const [emulatorPort] = await freePorts(1);
  const emulator = await startEmulator({
    port: emulatorPort,
    apiKeys: [{ key: apiKey, role: 'Manager' }],
    seed: await loadSeedFile(seedPath),
  });
  running.push(emulator);

  step('pointing the ClusterSecretStore "default" at the emulator');
  await core.createNamespace({ body: { metadata: { name: storeNamespace } } });
  await core.createNamespacedSecret({
    namespace: storeNamespace,
    body: { metadata: { name: 'sm-api-key' }, stringData: { apikey: apiKey } },
  });
  await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.ClusterSecretStore,
    body: {
      apiVersion: API_VERSION,
      kind: 'ClusterSecretStore',
      metadata: { name: 'default' },
      spec: {
        secretsManager: {
          url: emulator.url,
          iamUrl: emulator.url,
          auth: {
            apiKey: { secretRef: { name: 'sm-api-key', key: 'apikey', namespace: storeNamespace } },
          },
        },
      },
    },
  });

  step(`starting the operator (logs: ${relative(root, join(state, 'operator.log'))})`);
  const [metricsPort, healthPort] = await freePorts(2);
  const operator = startOperator([
    `--kubeconfig=${cp.kubeconfigPath}`,
    '--leader-elect=false',
    `--metrics-bind-address=127.0.0.1:${metricsPort}`,
    `--health-probe-bind-address=127.0.0.1:${healthPort}`,
    '--log-level=info',
  ]);
  running.push(operator);

  // examples/clusterexternalsecret-ca-bundle.yaml delivers to every namespace labelled team=...
  await core.patchNamespace(
    { name: namespace, body: { metadata: { labels: { team: 'quickstart' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );

  step('applying examples/ (every file but the stores, which point at real instances)');
  const files = exampleFiles(join(root, 'examples'));
  for (const file of files) {
    await execFileAsync(kubectl, [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '-n',
      namespace,
      'apply',
      '-f',
      file,
    ]);
    say(`    ${relative(root, file)}`);
  }

  step('waiting for the ExternalSecrets and leases to become Ready');
  const resources = await waitForReady(custom, 120_000);
  say();
  for (const r of resources) {
    say(`${r.kind}/${r.name}: ${r.ready} (${r.reason})${r.message ? ` - ${r.message}` : ''}`);
    if (!r.secretName) continue;
    const secret = await core
      .readNamespacedSecret({ namespace, name: r.secretName })
      .catch(() => undefined);
    if (!secret) {
      say(`  Secret ${r.secretName}: not written`);
      continue;
    }
    say(`  Secret ${r.secretName}:`);
    for (const [key, value] of Object.entries(secret.data ?? {})) {
      const bytes = Buffer.from(value, 'base64').length;
      say(`    ${key}: ******** (${bytes} bytes)`);
    }
  }

  if (cluster) {
    step("waiting for the examples' pods on the node");
    const k = (...args: string[]) =>
      execFileAsync(kubectl, [`--kubeconfig=${cp.kubeconfigPath}`, '-n', namespace, ...args]);
    // It calls IBM Cloud's public IAM and Object Storage, which nothing here can reach.
    await k('scale', 'deployment/bucket-uploader', '--replicas=0').catch(() => {});
    say('    bucket-uploader scaled to 0: it calls IBM Cloud itself, which is not reachable here');
    await k(
      'wait',
      '--for=condition=Ready',
      'pod',
      '--selector=app!=bucket-uploader',
      '--timeout=120s',
    ).catch((err: Error) => say(`    not all pods are Ready: ${err.message}`));
    const { stdout } = await execFileAsync(kubectl, [
      `--kubeconfig=${cp.kubeconfigPath}`,
      '-n',
      namespace,
      'get',
      'pods',
      '-o',
      'wide',
    ]);
    for (const line of stdout.trimEnd().split('\n')) say(`    ${line}`);
  }

  say();
  say('Everything is running. Try:');
  say(`  export KUBECONFIG=${cp.kubeconfigPath} PATH=${bin}:$PATH`);
  if (cluster) {
    say('  kubectl exec reads-database-url -- cat /etc/db/DATABASE_URL   # the mounted Secret');
    say(
      '  kubectl exec deploy/mailer -- env | grep SMTP_                 # env vars from a Secret',
    );
  }
  say('  kubectl get externalsecrets,iamcredentialleases,clustersecretstores');
  say('  kubectl get clusterexternalsecrets -o wide   # one ExternalSecret per team namespace');
  say('  kubectl describe externalsecret <name>      # conditions and Events');
  say(`  curl -s http://127.0.0.1:${metricsPort}/metrics | grep secrets_manager_operator_`);
  say(`Secrets Manager emulator: ${emulator.url} (API key ${apiKey})`);
  say(`  curl -s ${emulator.url}/__emulator/counters     # requests, logins, credentials`);
  say(`  curl -s -X POST ${emulator.url}/__emulator/secrets/<id>/rotate   # a remote rotation`);
  say('Press Ctrl-C to stop and clean up.');

  const [code] = (await once(operator.child, 'exit')) as [number | null];
  if (!stopping) {
    say(`the operator exited (${code}); see ${join(state, 'operator.log')}`);
    await shutdown(1);
  }
} catch (err) {
  process.stderr.write(`npm run dev failed: ${(err as Error).message}\n`);
  await shutdown(1);
}

function startOperator(args: string[]): Running & { child: ChildProcess } {
  const log = openSync(join(state, 'operator.log'), 'a');
  const child = spawn(process.execPath, [join(root, 'src', 'main.ts'), ...args], {
    stdio: ['ignore', log, log],
  });
  watchdog.watch(child.pid);
  return {
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** YAML files under `dir` that declare no store (those point at real Secrets Manager instances). */
function exampleFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => join(dir, f))
    .filter((f) => !/^kind:\s*(Cluster)?SecretStore\s*$/m.test(readFileSync(f, 'utf8')));
}

interface Summary {
  kind: string;
  name: string;
  ready: string;
  reason: string;
  message: string;
  secretName?: string;
}

async function waitForReady(custom: CustomObjectsApi, timeoutMs: number): Promise<Summary[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const summaries: Summary[] = [];
    for (const kind of ['ExternalSecret', 'IAMCredentialLease'] as const) {
      const list = (await custom.listNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURALS[kind],
      })) as { items: Array<Record<string, unknown>> };
      for (const item of list.items) summaries.push(summarize(kind, item));
    }
    // Ready=False can be transient (a store not validated yet, a Merge target applied a moment
    // later), so wait for every resource to be Ready and show the state at the deadline if not.
    const ready = summaries.length > 0 && summaries.every((s) => s.ready === 'Ready');
    if (ready || Date.now() > deadline) return summaries;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function summarize(kind: string, item: Record<string, unknown>): Summary {
  const metadata = item.metadata as { name: string };
  const status = (item.status ?? {}) as {
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    secretName?: string;
  };
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  return {
    kind,
    name: metadata.name,
    ready: ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown',
    reason: ready?.reason ?? 'pending',
    message: ready?.status === 'True' ? '' : (ready?.message ?? ''),
    secretName: status.secretName,
  };
}
