// One real node for the local control plane: containerd, kubelet and kube-proxy, with the pod
// network on a bridge of its own.
//
// The node lives in namespaces and a cgroup tree that belong to it alone, so parallel runs do not
// collide and nothing outlives it:
// - a network namespace, joined to the host by one veth pair (host side <prefix>.1, node side
//   <prefix>.2, a /30 per run). The API server and the Secrets Manager emulator listen on the host
//   side, which is what pods reach; kube-proxy programs the `kubernetes` Service there. The
//   bridge, the pods' veths, CNI's NAT chains and every KUBE-* rule stay inside the namespace.
// - a mount namespace with private propagation: the containers' root filesystems, the Secret
//   volumes and the pods' network namespaces are mounted there and nowhere else.
// - the cgroup /smo-node-<id> in every hierarchy: the kubelet's cgroupRoot (pods), and a
//   `daemons` child in the pids hierarchy for containerd, its shims, kubelet and kube-proxy.
// When the last process of the tree dies, both namespaces go, and with them every mount, device and
// rule. node-teardown.sh kills the tree and removes the cgroups and the state directory; it runs on
// stop(), from a watchdog when the parent dies without stopping (SIGKILL), and from the next
// start for any run whose owner is gone (the records in /run/smo-node/runs).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type ControlPlane, resolveBinaries, startControlPlane } from './controlplane.ts';

const execFileAsync = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const REGISTRY = '/run/smo-node';
const CGROUP_ROOT = '/sys/fs/cgroup';
export const NODE_NAME = 'smo-node';
/** The pods' addresses, inside the node's network namespace only (masqueraded on the way out). */
const POD_CIDR = '10.88.0.0/16';
const SYSCTLS = ['kernel.panic', 'kernel.panic_on_oops', 'vm.overcommit_memory'];

export class NodeError extends Error {
  override name = 'NodeError';
}

/** The node's network and namespaces, made before the control plane so it can listen there. */
export interface NodeSandbox {
  id: string;
  stateDir: string;
  /** Sockets (short paths). */
  runDir: string;
  /** The host's side of the veth pair: the API server's and the emulator's address for pods. */
  hostAddress: string;
  /** The node's address (its InternalIP). */
  nodeAddress: string;
  hostInterface: string;
  cgroup: string;
  holderPid: number;
  /** Runs the teardown now (idempotent). */
  teardown(): Promise<void>;
}

export interface NodeImage {
  name: string;
  tarball: string;
}

export interface Node {
  sandbox: NodeSandbox;
  name: string;
  containerdSocket: string;
  /** Milliseconds from the kubelet's start to the node's Ready condition. */
  readyMs: number;
  importImages(images: NodeImage[]): Promise<void>;
  stop(): Promise<void>;
}

async function run(cmd: string, args: string[], what: string): Promise<string> {
  try {
    const { stdout } = await execFileAsync(cmd, args, { maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new NodeError(
      `${what}: ${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`,
    );
  }
}

/** Installs (as root, with apt-get) or names the Debian packages the node needs. */
export async function ensureNodePackages(): Promise<void> {
  if (process.platform !== 'linux') throw new NodeError('a local node needs Linux');
  await run('bash', [join(here, '../node/packages.sh')], 'checking the node packages');
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat (after the parenthesised name) is the start time.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Tears down every node whose owning process is gone (a runner killed with SIGKILL, say). */
export async function reapStaleNodes(log: (line: string) => void = () => {}): Promise<void> {
  const runs = join(REGISTRY, 'runs');
  if (!existsSync(runs)) return;
  for (const name of readdirSync(runs)) {
    const record = join(runs, name);
    let text: string;
    try {
      text = readFileSync(record, 'utf8');
    } catch {
      continue;
    }
    const owner = Number(/^owner=(\d+)$/m.exec(text)?.[1]);
    const ownerStart = /^owner_start=(\S+)$/m.exec(text)?.[1];
    if (owner && processStart(owner) === ownerStart) continue;
    log(`[node] removing the leftovers of node ${name} (its owner is gone)`);
    await run('bash', [join(here, 'node-teardown.sh'), record], 'tearing down a stale node');
  }
}

async function freeSubnet(): Promise<number> {
  const used = await run('ip', ['-4', '-o', 'addr'], 'listing addresses');
  const routes = await run('ip', ['-4', 'route'], 'listing routes');
  const start = randomBytes(1)[0] ?? 0;
  for (let i = 0; i < 256; i++) {
    const n = (start + i) % 256;
    const prefix = `10.254.${n}.`;
    if (!used.includes(prefix) && !routes.includes(prefix)) return n;
  }
  throw new NodeError('no free 10.254.N.0/30 subnet for the node');
}

function writeCgroups(cgroup: string): void {
  for (const hierarchy of readdirSync(CGROUP_ROOT)) {
    if (hierarchy === 'unified') continue;
    const base = join(CGROUP_ROOT, hierarchy);
    if (!existsSync(join(base, 'cgroup.procs'))) continue;
    const dir = join(base, cgroup);
    mkdirSync(dir, { recursive: true });
    if (hierarchy === 'cpuset') {
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        writeFileSync(join(dir, file), readFileSync(join(base, file), 'utf8'));
      }
    }
  }
  mkdirSync(join(CGROUP_ROOT, 'pids', cgroup, 'daemons'), { recursive: true });
}

/**
 * Creates the node's namespaces, cgroups and network. `dir`: where the node's state goes
 * (default a new temporary directory); its logs stay there after teardown when it is given.
 */
export async function prepareNode(
  opts: { dir?: string; log?: (line: string) => void } = {},
): Promise<NodeSandbox> {
  const log = opts.log ?? (() => {});
  if (process.getuid?.() !== 0)
    throw new NodeError('a local node needs root (namespaces, cgroups)');
  if (!existsSync(join(CGROUP_ROOT, 'pids', 'cgroup.procs'))) {
    throw new NodeError(`a local node needs cgroup v1 with the pids controller at ${CGROUP_ROOT}`);
  }
  await ensureNodePackages();
  await reapStaleNodes(log);

  const id = randomBytes(4).toString('hex');
  const stateDir = opts.dir ?? mkdtempSync(join(tmpdir(), 'smo-node-'));
  mkdirSync(stateDir, { recursive: true });
  const runDir = join(REGISTRY, id);
  mkdirSync(runDir, { recursive: true });
  mkdirSync(join(REGISTRY, 'runs'), { recursive: true });
  const cgroup = `smo-node-${id}`;
  const hostInterface = `smo${id}`;
  const subnet = await freeSubnet();
  const hostAddress = `10.254.${subnet}.1`;
  const nodeAddress = `10.254.${subnet}.2`;

  // The record first: whatever is created after it is found by the teardown.
  const record = join(REGISTRY, 'runs', id);
  const recordLines = [
    `id=${id}`,
    `owner=${process.pid}`,
    `owner_start=${processStart(process.pid)}`,
    `cgroup=${cgroup}`,
    `host_interface=${hostInterface}`,
    `state_dir=${stateDir}`,
    `run_dir=${runDir}`,
    `keep_logs=${opts.dir !== undefined}`,
  ];
  writeFileSync(record, `${recordLines.join('\n')}\n`);
  const sysctlFile = join(REGISTRY, 'sysctls');
  if (!existsSync(sysctlFile)) {
    const values = await run('sysctl', ['-e', ...SYSCTLS], 'reading sysctls');
    writeFileSync(sysctlFile, values.replaceAll(' = ', ' '));
  }

  // On exit without stop() (or SIGKILL), the watchdog tears the node down once we are gone.
  let watchdog: ChildProcess | undefined;
  const teardown = async () => {
    watchdog?.kill('SIGKILL');
    await run('bash', [join(here, 'node-teardown.sh'), record], 'tearing down the node');
  };

  try {
    writeCgroups(cgroup);
    // The holder: the first process in the node's mount and network namespaces.
    const mounts = [
      'mount --make-rprivate /',
      // containerd 1.6 puts its shims' sockets under /run/containerd whatever its state dir; the
      // kubelet writes /var/log/containers. Both stay private to the node.
      'mount -t tmpfs -o mode=0711 smo-node /run/containerd',
      'mount -t tmpfs -o mode=0755 smo-node /var/log',
      'ip link set lo up',
      'exec sleep infinity',
    ].join(' && ');
    mkdirSync('/run/containerd', { recursive: true });
    const holder = spawn(
      'sh',
      [
        '-c',
        `echo $$ > ${join(CGROUP_ROOT, 'pids', cgroup, 'daemons', 'cgroup.procs')} && exec unshare --mount --net --propagation private sh -c '${mounts}'`,
      ],
      { stdio: 'ignore', detached: true },
    );
    holder.unref();
    const holderPid = holder.pid;
    if (!holderPid) throw new NodeError('could not start the node namespace holder');
    writeFileSync(record, `${recordLines.join('\n')}\nholder=${holderPid}\n`);
    watchdog = startTeardownWatchdog(record);

    // Wait until the holder has its own network namespace and has run its mounts.
    const ownNet = readlinkSafe('/proc/self/ns/net');
    for (let i = 0; ; i++) {
      const net = readlinkSafe(`/proc/${holderPid}/ns/net`);
      const comm = readFileSafe(`/proc/${holderPid}/comm`).trim();
      if (net && net !== ownNet && comm === 'sleep') break;
      if (holder.exitCode !== null || i > 100) {
        throw new NodeError('the node namespace holder did not start (unshare failed?)');
      }
      await new Promise((r) => setTimeout(r, 50));
    }

    await run(
      'ip',
      [
        'link',
        'add',
        hostInterface,
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        String(holderPid),
      ],
      'creating the node veth pair',
    );
    await run('ip', ['addr', 'add', `${hostAddress}/30`, 'dev', hostInterface], 'host address');
    await run('ip', ['link', 'set', hostInterface, 'up'], 'host interface up');
    const inNode = (args: string[]) =>
      run('nsenter', ['-t', String(holderPid), '-n', '--', ...args], 'node network');
    await inNode(['ip', 'addr', 'add', `${nodeAddress}/30`, 'dev', 'eth0']);
    await inNode(['ip', 'link', 'set', 'eth0', 'up']);
    log(`[node] network: host ${hostAddress} <-> node ${nodeAddress} (${hostInterface})`);
    return {
      id,
      stateDir,
      runDir,
      hostAddress,
      nodeAddress,
      hostInterface,
      cgroup,
      holderPid,
      teardown,
    };
  } catch (err) {
    await teardown().catch(() => {});
    throw err;
  }
}

/** A detached shell that runs the teardown once the current process is gone, however it died. */
function startTeardownWatchdog(record: string): ChildProcess {
  const script =
    'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec bash "$2" "$3" >/dev/null 2>&1';
  const child = spawn(
    'sh',
    ['-c', script, 'watchdog', String(process.pid), join(here, 'node-teardown.sh'), record],
    { detached: true, stdio: 'ignore' },
  );
  child.unref();
  return child;
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export interface StartNodeOptions {
  sandbox: NodeSandbox;
  binDir: string;
  /** The control plane's kubeconfig (its server is on the sandbox's host address). */
  kubeconfigPath: string;
  /** ca.crt of the control plane: the kubelet trusts client certificates it signed. */
  caCert: string;
  /** Image for the pod sandbox, imported before the kubelet starts. */
  pauseImage: NodeImage;
  /** More images to import before the kubelet starts. */
  images?: NodeImage[];
  log?: (line: string) => void;
}

/** Starts containerd, the kubelet and kube-proxy in the sandbox; resolves once the node is Ready. */
export async function startNode(opts: StartNodeOptions): Promise<Node> {
  const { sandbox, binDir } = opts;
  const log = opts.log ?? (() => {});
  const state = sandbox.stateDir;
  const p = (...parts: string[]) => join(state, ...parts);
  for (const d of ['containerd', 'cni/net.d', 'cni/ipam', 'kubelet', 'pod-logs']) {
    mkdirSync(p(d), { recursive: true });
  }
  const socket = join(sandbox.runDir, 'containerd.sock');
  const daemons: Array<{ name: string; child: ChildProcess; logFile: string }> = [];

  const startDaemon = (name: string, command: string, args: string[]) => {
    const logFile = p(`${name}.log`);
    const fd = openSync(logFile, 'a');
    const procs = join(CGROUP_ROOT, 'pids', sandbox.cgroup, 'daemons', 'cgroup.procs');
    const child = spawn(
      'sh',
      [
        '-c',
        `echo $$ > ${procs} && exec nsenter -t ${sandbox.holderPid} -m -n -- "$@"`,
        name,
        command,
        ...args,
      ],
      // Its own process group: a Ctrl-C meant for the runner does not reach it first.
      { stdio: ['ignore', fd, fd], detached: true },
    );
    child.unref();
    closeSync(fd);
    const daemon = { name, child, logFile };
    daemons.push(daemon);
    return daemon;
  };

  writeFileSync(
    p('containerd', 'config.toml'),
    `version = 2
root = "${p('containerd', 'root')}"
state = "${p('containerd', 'state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${socket}"
[plugins."io.containerd.internal.v1.opt"]
  path = "${p('containerd', 'opt')}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${opts.pauseImage.name}"
  # The VM refuses negative OOM score adjustments (no CAP_SYS_RESOURCE).
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p('cni', 'net.d')}"
`,
  );
  writeFileSync(
    p('cni', 'net.d', '10-smo.conflist'),
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: 'smo',
        plugins: [
          {
            type: 'bridge',
            bridge: 'cni0',
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: p('cni', 'ipam'),
              ranges: [[{ subnet: POD_CIDR }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ),
  );

  const containerd = startDaemon('containerd', '/usr/bin/containerd', [
    `--config=${p('containerd', 'config.toml')}`,
  ]);
  await waitUntil(
    'containerd',
    containerd,
    async () =>
      execFileAsync('ctr', ['--address', socket, 'version'], { timeout: 2000 }).then(
        () => true,
        () => false,
      ),
    30_000,
  );

  const importImages = async (images: NodeImage[]) => {
    for (const image of images) {
      await run(
        'ctr',
        ['--address', socket, '-n', 'k8s.io', 'images', 'import', '--no-unpack', image.tarball],
        `importing ${image.name}`,
      );
    }
  };
  await importImages([opts.pauseImage, ...(opts.images ?? [])]);

  writeFileSync(
    p('kubelet', 'config.yaml'),
    `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 on this machine: 1.35+ refuse it unless told otherwise.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: /${sandbox.cgroup}
failSwapOn: false
# No CAP_SYS_RESOURCE here: no negative OOM score for the kubelet.
oomScoreAdj: 0
# Secret volumes follow a change within about a second.
syncFrequency: 1s
nodeStatusUpdateFrequency: 2s
address: ${sandbox.nodeAddress}
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
containerRuntimeEndpoint: unix://${socket}
podLogsDir: ${p('pod-logs')}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: ${opts.caCert}}
authorization:
  mode: Webhook
clusterDomain: cluster.local
resolvConf: ""
# A throw-away node on a shared disk: never evict, never collect images.
evictionHard: {memory.available: "1Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
shutdownGracePeriod: 0s
`,
  );
  writeFileSync(
    p('kube-proxy.yaml'),
    `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${opts.kubeconfigPath}
hostnameOverride: ${NODE_NAME}
mode: iptables
clusterCIDR: ${POD_CIDR}
bindAddress: ${sandbox.nodeAddress}
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Conntrack limits are the host's; leave them alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
`,
  );

  const kubeletStarted = Date.now();
  const kubelet = startDaemon('kubelet', join(binDir, 'kubelet'), [
    `--config=${p('kubelet', 'config.yaml')}`,
    `--kubeconfig=${opts.kubeconfigPath}`,
    `--root-dir=${p('kubelet')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${sandbox.nodeAddress}`,
    '--v=1',
  ]);
  const kubectl = join(binDir, 'kubectl');
  const nodeReady = async () => {
    try {
      const { stdout } = await execFileAsync(
        kubectl,
        [
          `--kubeconfig=${opts.kubeconfigPath}`,
          'get',
          'node',
          NODE_NAME,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.taints[*].key}',
        ],
        { timeout: 5000 },
      );
      const [ready, ...taints] = stdout.trim().split(' ');
      return ready === 'True' && !taints.includes('node.kubernetes.io/not-ready');
    } catch {
      return false;
    }
  };
  await waitUntil('kubelet', kubelet, nodeReady, 120_000);
  const readyMs = Date.now() - kubeletStarted;

  startDaemon('kube-proxy', join(binDir, 'kube-proxy'), [`--config=${p('kube-proxy.yaml')}`]);
  log(`[node] ${NODE_NAME} Ready ${(readyMs / 1000).toFixed(1)}s after the kubelet started`);

  return {
    sandbox,
    name: NODE_NAME,
    containerdSocket: socket,
    readyMs,
    importImages,
    stop: () => sandbox.teardown(),
  };
}

async function waitUntil(
  name: string,
  proc: { child: ChildProcess; logFile: string },
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new NodeError(
        `${name} exited (${proc.child.exitCode ?? proc.child.signalCode}) before it was ready. Log ${proc.logFile}:\n${tailOf(proc.logFile)}`,
      );
    }
    if (await ready()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new NodeError(
    `${name} was not ready within ${timeoutMs / 1000}s. Log ${proc.logFile}:\n${tailOf(proc.logFile)}`,
  );
}

function tailOf(file: string): string {
  return readFileSafe(file).trimEnd().split('\n').slice(-25).join('\n');
}

/** Builds the node images (test/node/images.sh) and returns them by role. */
export async function buildNodeImages(
  outDir: string,
  binDir: string,
  opts: { operator: boolean; log?: (line: string) => void },
): Promise<{ pause: NodeImage; busybox: NodeImage; operator?: NodeImage; log: string }> {
  const child = spawn(
    'bash',
    [join(here, '../node/images.sh'), outDir, binDir, ...(opts.operator ? ['--operator'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => {
    stdout += b.toString();
  });
  child.stderr.on('data', (b: Buffer) => {
    const text = b.toString();
    stderr += text;
    for (const line of text.split('\n')) if (line.startsWith('[images]')) opts.log?.(line);
  });
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) {
    throw new NodeError(`building the node images failed (exit ${code}):\n${stderr.slice(-4000)}`);
  }
  const images = new Map<string, NodeImage>();
  for (const line of stdout.trim().split('\n')) {
    const [role, name, tarball] = line.split(' ');
    if (role && name && tarball) images.set(role, { name, tarball });
  }
  const pause = images.get('pause');
  const busybox = images.get('busybox');
  if (!pause || !busybox)
    throw new NodeError(`images.sh printed no pause/busybox image:\n${stdout}`);
  return { pause, busybox, operator: images.get('operator'), log: stderr };
}

export interface LocalCluster {
  controlPlane: ControlPlane;
  node: Node;
  images: { pause: NodeImage; busybox: NodeImage; operator?: NodeImage };
  /** Milliseconds the images took to build. */
  imagesMs: number;
  stop(): Promise<void>;
}

/**
 * The control plane and one node: the node's network first (the API server listens on its host
 * side), then the images, the control plane, and the node. Writes `<dir>/node.json` when `dir`
 * is given, for tests pointed at a running cluster.
 */
export async function startClusterWithNode(
  opts: {
    dir?: string;
    operatorImage?: boolean;
    log?: (line: string) => void;
    beforeControllers?: (kubeconfigPath: string) => Promise<void>;
  } = {},
): Promise<LocalCluster> {
  const log = opts.log ?? (() => {});
  const binDir = await resolveBinaries(log, { node: true });
  const sandbox = await prepareNode({ dir: opts.dir && join(opts.dir, 'node'), log });
  let controlPlane: ControlPlane | undefined;
  try {
    const imagesStarted = Date.now();
    const images = await buildNodeImages(join(sandbox.stateDir, 'images'), binDir, {
      operator: opts.operatorImage ?? false,
      log,
    });
    const imagesMs = Date.now() - imagesStarted;
    controlPlane = await startControlPlane({
      dir: opts.dir,
      binDir,
      log,
      nodeAddress: sandbox.hostAddress,
      beforeControllers: opts.beforeControllers,
    });
    const node = await startNode({
      sandbox,
      binDir,
      kubeconfigPath: controlPlane.kubeconfigPath,
      caCert: join(controlPlane.pkiDir, 'ca.crt'),
      pauseImage: images.pause,
      images: [images.busybox, ...(images.operator ? [images.operator] : [])],
      log,
    });
    const cp = controlPlane;
    if (opts.dir) {
      writeFileSync(
        join(opts.dir, 'node.json'),
        JSON.stringify(
          { hostAddress: sandbox.hostAddress, nodeName: node.name, images, binDir },
          null,
          2,
        ),
      );
    }
    return {
      controlPlane: cp,
      node,
      images,
      imagesMs,
      stop: async () => {
        await node.stop();
        await cp.stop();
      },
    };
  } catch (err) {
    await sandbox.teardown().catch(() => {});
    await controlPlane?.stop().catch(() => {});
    throw err;
  }
}
