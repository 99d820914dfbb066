// A real local Kubernetes control plane for tests and the quickstart: etcd, kube-apiserver and
// kube-controller-manager on free loopback ports, with a generated admin kubeconfig.
//
// Processes are stopped by `stop()`, on the parent's exit, and by a watchdog that outlives the
// parent: if the test runner is killed outright, the watchdog still stops what we started
// (./watchdog.ts).

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startWatchdog } from './watchdog.ts';

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

export interface ControlPlaneOptions {
  /** Where certificates, data, logs and the kubeconfig go. Default: a new temporary directory, removed on stop. */
  dir?: string;
  /** Directory with the binaries. Default: the result of `build.sh` (cached, built on first use). */
  binDir?: string;
  /** Run kube-controller-manager (garbage collection, namespace deletion, service accounts). Default true. */
  controllerManager?: boolean;
  /** Progress lines for humans. */
  log?: (line: string) => void;
  /**
   * Runs once the API is healthy and before the controller manager starts. Install CRDs here:
   * the garbage collector discovers resource types at start and then only every 30 s.
   */
  beforeControllers?: (kubeconfigPath: string) => Promise<void>;
  /**
   * For a cluster with a node: the API server listens and advertises on this address (the host
   * side of the node's network) instead of 127.0.0.1, talks to kubelets with the admin
   * certificate, and kube-scheduler and the node-lifecycle controller run too.
   */
  nodeAddress?: string;
}

export interface ControlPlane {
  dir: string;
  binDir: string;
  kubeconfigPath: string;
  server: string;
  /** The certificates' directory: ca.crt, admin.crt/key (kubelet and kube-proxy use them). */
  pkiDir: string;
  /** Milliseconds from the first process start to a healthy API. */
  startupMs: number;
  /**
   * Stops kube-apiserver alone and starts it again on the same port, certificates and etcd (as an
   * upgrade or a crash of the API server does); resolves once it is ready again.
   */
  restartApiServer(): Promise<void>;
  /** The processes running now, by binary name (benchmarks read their CPU time from /proc). */
  processes(): Array<{ name: string; pid: number }>;
  stop(): Promise<void>;
}

export class ControlPlaneError extends Error {
  override name = 'ControlPlaneError';
}

/** Builds (or finds in the cache) the control-plane binaries and returns their directory. */
export async function resolveBinaries(
  log: (line: string) => void = () => {},
  opts: { node?: boolean } = {},
): Promise<string> {
  const script = join(here, 'build.sh');
  const child = spawn('bash', [script, ...(opts.node ? ['--node'] : [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    const text = b.toString();
    stderr += text;
    for (const line of text.split('\n')) if (line.startsWith('[controlplane]')) log(line);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new ControlPlaneError(
      `could not build the local control plane (test/controlplane/build.sh exited ${code}).\n` +
        `Install Go, or set KUBEBUILDER_ASSETS to a directory with etcd, kube-apiserver and kubectl.\n` +
        `Last output:\n${tail(stderr, 30)}`,
    );
  }
  const dir = stdout.trim().split('\n').at(-1);
  if (!dir) throw new ControlPlaneError('build.sh printed no binary directory');
  return dir;
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const log = opts.log ?? (() => {});
  const binDir = opts.binDir ?? (await resolveBinaries(log));
  const ownDir = opts.dir === undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'smo-controlplane-'));
  mkdirSync(dir, { recursive: true });
  const address = opts.nodeAddress ?? '127.0.0.1';
  const certs = await makeCertificates(join(dir, 'pki'), address);

  const processes: Array<{ name: string; child: ChildProcess }> = [];
  const watchdog = startWatchdog();
  const killAll = (signal: NodeJS.Signals) => {
    for (const { child } of processes) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    }
  };
  const onExit = () => {
    killAll('SIGKILL');
    watchdog.disarm();
  };
  process.once('exit', onExit);

  const startProcess = (name: string, args: string[]) => {
    const logFile = join(dir, `${name}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawn(join(binDir, name), args, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    processes.push({ name, child });
    watchdog.watch(child.pid);
    return { child, logFile };
  };

  const stop = async () => {
    process.removeListener('exit', onExit);
    // Reverse order: controllers, then the API server, then storage.
    for (const { child } of [...processes].reverse()) await stopChild(child, 10_000);
    watchdog.disarm();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  };

  const started = Date.now();
  try {
    const [etcdClient, etcdPeer, apiPort] = await freePorts(3);
    const etcd = startProcess('etcd', [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      // Test data is thrown away; fsync only costs time.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ]);
    await waitFor('etcd', etcd, () => httpOk(`http://127.0.0.1:${etcdClient}/health`), 30_000);

    const server = `https://${address}:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--tls-cert-file=${certs.serverCert}`,
      `--tls-private-key-file=${certs.serverKey}`,
      `--client-ca-file=${certs.caCert}`,
      '--authorization-mode=Node,RBAC',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${certs.saPub}`,
      `--service-account-signing-key-file=${certs.saKey}`,
      '--allow-privileged=true',
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      ...(opts.nodeAddress
        ? [
            `--kubelet-client-certificate=${certs.adminCert}`,
            `--kubelet-client-key=${certs.adminKey}`,
            // The node's name resolves nowhere; its InternalIP is on the node's veth.
            '--kubelet-preferred-address-types=InternalIP',
          ]
        : []),
    ];
    let apiserver = startProcess('kube-apiserver', apiserverArgs);
    const client = { ca: certs.ca, cert: certs.adminCertPem, key: certs.adminKeyPem };
    await waitFor('kube-apiserver', apiserver, () => httpsOk(`${server}/readyz`, client), 90_000);
    const restartApiServer = async () => {
      await stopChild(apiserver.child, 10_000);
      apiserver = startProcess('kube-apiserver', apiserverArgs);
      await waitFor('kube-apiserver', apiserver, () => httpsOk(`${server}/readyz`, client), 90_000);
    };

    const kubeconfigPath = join(dir, 'kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(server, certs), { mode: 0o600 });
    await opts.beforeControllers?.(kubeconfigPath);

    if (opts.controllerManager !== false) {
      const kcm = startProcess('kube-controller-manager', [
        `--kubeconfig=${kubeconfigPath}`,
        `--service-account-private-key-file=${certs.saKey}`,
        `--root-ca-file=${certs.caCert}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${(await freePorts(1))[0]}`,
        // Without a node, skip the controllers that only manage nodes. With one, the node-lifecycle
        // controller removes the not-ready taint the API server puts on a new node.
        opts.nodeAddress
          ? '--controllers=*,-nodeipam,-cloud-node-lifecycle,-route,-service'
          : '--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-route,-service',
      ]);
      // The service-account controller creating `default/default` proves the manager runs.
      await waitFor(
        'kube-controller-manager',
        kcm,
        () => httpsOk(`${server}/api/v1/namespaces/default/serviceaccounts/default`, client),
        60_000,
      );
    }

    if (opts.nodeAddress) {
      const [schedulerPort] = await freePorts(1);
      const scheduler = startProcess('kube-scheduler', [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${schedulerPort}`,
      ]);
      // Its serving certificate is self-signed; /healthz needs no client identity.
      await waitFor(
        'kube-scheduler',
        scheduler,
        () => httpsOk(`https://127.0.0.1:${schedulerPort}/healthz`, { rejectUnauthorized: false }),
        60_000,
      );
    }

    const startupMs = Date.now() - started;
    log(`control plane healthy at ${server} in ${(startupMs / 1000).toFixed(1)}s`);
    return {
      dir,
      binDir,
      kubeconfigPath,
      server,
      pkiDir: join(dir, 'pki'),
      startupMs,
      restartApiServer,
      processes: () =>
        processes
          .filter(({ child }) => child.exitCode === null && child.signalCode === null)
          .map(({ name, child }) => ({ name, pid: child.pid as number })),
      stop,
    };
  } catch (err) {
    await stop().catch(() => {});
    throw err;
  }
}

interface Certificates {
  ca: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCertPem: string;
  adminKeyPem: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

async function makeCertificates(dir: string, address: string): Promise<Certificates> {
  mkdirSync(dir, { recursive: true });
  const p = (name: string) => join(dir, name);
  const openssl = async (...args: string[]) => {
    try {
      await execFileAsync('openssl', args);
    } catch (err) {
      throw new ControlPlaneError(
        `openssl failed while generating the control plane's certificates (is openssl installed?): ${(err as Error).message}`,
      );
    }
  };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    p('ca.key'),
    '-out',
    p('ca.crt'),
    '-days',
    '30',
    '-subj',
    '/CN=secrets-manager-operator-local-ca',
  );
  const signed = (name: string, subj: string, ...ext: string[]) =>
    openssl(
      'req',
      '-x509',
      ...ec,
      '-keyout',
      p(`${name}.key`),
      '-out',
      p(`${name}.crt`),
      '-days',
      '30',
      '-subj',
      subj,
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      ...ext.flatMap((e) => ['-addext', e]),
    );
  await Promise.all([
    signed(
      'apiserver',
      '/CN=kube-apiserver',
      `subjectAltName=IP:127.0.0.1,IP:10.0.0.1,${address === '127.0.0.1' ? '' : `IP:${address},`}DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local`,
      'extendedKeyUsage=serverAuth',
    ),
    // system:masters: the admin user of a local, throw-away cluster.
    signed('admin', '/O=system:masters/CN=admin', 'extendedKeyUsage=clientAuth'),
    openssl(
      'genpkey',
      '-algorithm',
      'RSA',
      '-pkeyopt',
      'rsa_keygen_bits:2048',
      '-out',
      p('sa.key'),
    ),
  ]);
  await openssl('pkey', '-in', p('sa.key'), '-pubout', '-out', p('sa.pub'));
  return {
    ca: readFileSync(p('ca.crt'), 'utf8'),
    caCert: p('ca.crt'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    adminCertPem: readFileSync(p('admin.crt'), 'utf8'),
    adminKeyPem: readFileSync(p('admin.key'), 'utf8'),
    adminCert: p('admin.crt'),
    adminKey: p('admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

function kubeconfig(server: string, certs: Certificates): string {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return `apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    certificate-authority-data: ${b64(certs.ca)}
users:
- name: admin
  user:
    client-certificate-data: ${b64(certs.adminCertPem)}
    client-key-data: ${b64(certs.adminKeyPem)}
contexts:
- name: local
  context:
    cluster: local
    user: admin
    namespace: default
current-context: local
`;
}

async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

async function waitFor(
  name: string,
  proc: { child: ChildProcess; logFile: string },
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new ControlPlaneError(
        `${name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before it became healthy. ` +
          `Log ${proc.logFile}:\n${tail(readLog(proc.logFile), 25)}`,
      );
    }
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new ControlPlaneError(
    `${name} did not become healthy within ${timeoutMs / 1000}s. Log ${proc.logFile}:\n${tail(readLog(proc.logFile), 25)}`,
  );
}

function httpOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2000) })
    .then((r) => r.ok)
    .catch(() => false);
}

function httpsOk(
  url: string,
  tls: { ca: string; cert: string; key: string } | { rejectUnauthorized: false },
): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { ...tls, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/**
 * Free ports for the control plane's listeners, below the kernel's ephemeral range. A port the
 * kernel hands out for `listen(0)` comes from that range, and so does the local port of every
 * outgoing connection: released and bound again seconds later (etcd starts first), it can be
 * taken by then, and kube-apiserver exits with "address already in use". Below the range only
 * another listener can take it; each candidate is checked free on every address first.
 */
export async function freePorts(n: number): Promise<number[]> {
  const [low, high] = portRange();
  const ports: number[] = [];
  for (let tries = 0; ports.length < n; tries++) {
    if (tries > 1_000) throw new Error(`no free port in ${low}-${high - 1}`);
    const port = low + Math.floor(Math.random() * (high - low));
    if (!ports.includes(port) && (await bindable(port))) ports.push(port);
  }
  return ports;
}

/** [first, end) of the ports to pick from: the 20,000 below the ephemeral range. */
function portRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    );
    if (Number.isInteger(first) && first > 2048) ephemeralLow = first;
  } catch {
    // Not Linux: the IANA default range starts at 49152, above 32768.
  }
  return [Math.max(1024, ephemeralLow - 20_000), ephemeralLow];
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '0.0.0.0', () => server.close(() => resolve(true)));
  });
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
