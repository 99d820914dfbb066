// `npm run cluster -- --dir <d> [--node] [--operator-image]`: a local control plane (and with
// --node one real node that runs pods) in the foreground until SIGINT/SIGTERM.
// Writes <d>/kubeconfig and puts the matching kubectl and helm in <d>/bin/.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startControlPlane } from './controlplane.ts';
import { startClusterWithNode } from './node.ts';
import { whenOrphaned } from './watchdog.ts';

const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    node: { type: 'boolean' },
    'operator-image': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.dir) {
  process.stderr.write('usage: npm run cluster -- --dir <directory> [--node [--operator-image]]\n');
  process.exit(values.help ? 0 : 2);
}
const dir = resolve(values.dir);
const log = (line: string) => process.stderr.write(`${line}\n`);

try {
  const cluster = values.node
    ? await startClusterWithNode({ dir, log, operatorImage: values['operator-image'] })
    : undefined;
  const cp = cluster?.controlPlane ?? (await startControlPlane({ dir, log }));
  const bin = join(dir, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of ['kubectl', 'helm']) copyFileSync(join(cp.binDir, tool), join(bin, tool));
  process.stdout.write(
    [
      `API server:  ${cp.server} (healthy after ${(cp.startupMs / 1000).toFixed(1)}s)`,
      `kubeconfig:  ${cp.kubeconfigPath}`,
      `tools:       ${bin}/kubectl, ${bin}/helm`,
      ...(cluster
        ? [
            `node:        ${cluster.node.name}, Ready in ${(cluster.node.readyMs / 1000).toFixed(1)}s; pods reach the host at ${cluster.node.sandbox.hostAddress}`,
            `images:      ${[cluster.images.pause, cluster.images.busybox, cluster.images.operator]
              .flatMap((i) => (i ? [i.name] : []))
              .join(', ')}`,
          ]
        : []),
      '',
      `  export KUBECONFIG=${cp.kubeconfigPath} PATH=${bin}:$PATH`,
      '  kubectl get namespaces',
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping the control plane`);
    await (cluster ?? cp).stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // `npm run` killed outright forwards nothing.
  whenOrphaned(() => void shutdown('parent gone'));
} catch (err) {
  log(`error: ${(err as Error).message}`);
  process.exit(1);
}
