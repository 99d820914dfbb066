// vitest global setup of the node project: a control plane of its own with one real node
// (containerd, kubelet, kube-proxy, kube-scheduler) and the operator image built from the
// Dockerfile and imported into the node. Its own control plane, because the chart it installs
// creates cluster-scoped objects and runs an operator that reads every ClusterSecretStore.
//
// SMO_TEST_NODE_DIR points the tests at a cluster already started with
// `npm run cluster -- --dir <d> --node --operator-image` (its <d>/node.json), which saves the
// start-up while iterating. Without it everything is built and started here; when that fails the
// run fails with the reason, in CI and everywhere else (never a skip).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startClusterWithNode } from '../controlplane/node.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    nodeCluster: {
      kubeconfigPath: string;
      binDir: string;
      /** The host's side of the node's network: pods reach services of the test process here. */
      hostAddress: string;
      nodeName: string;
      operatorImage: string;
      busyboxImage: string;
      /** What the set-up measured, for the report. */
      timings: { nodeReadyMs: number; imagesMs: number; controlPlaneMs: number };
    };
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.SMO_TEST_NODE_DIR;
  if (existing) {
    const info = JSON.parse(readFileSync(join(existing, 'node.json'), 'utf8')) as {
      hostAddress: string;
      nodeName: string;
      binDir: string;
      images: { busybox: { name: string }; operator?: { name: string } };
    };
    if (!info.images.operator) {
      throw new Error(`${existing} was started without --operator-image`);
    }
    project.provide('nodeCluster', {
      kubeconfigPath: join(existing, 'kubeconfig'),
      binDir: info.binDir,
      hostAddress: info.hostAddress,
      nodeName: info.nodeName,
      operatorImage: info.images.operator.name,
      busyboxImage: info.images.busybox.name,
      timings: { nodeReadyMs: 0, imagesMs: 0, controlPlaneMs: 0 },
    });
    return async () => {};
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const cluster = await startClusterWithNode({ operatorImage: true, log });
  const operator = cluster.images.operator;
  if (!operator) throw new Error('the operator image was not built');
  project.provide('nodeCluster', {
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    binDir: cluster.controlPlane.binDir,
    hostAddress: cluster.node.sandbox.hostAddress,
    nodeName: cluster.node.name,
    operatorImage: operator.name,
    busyboxImage: cluster.images.busybox.name,
    timings: {
      nodeReadyMs: cluster.node.readyMs,
      imagesMs: cluster.imagesMs,
      controlPlaneMs: cluster.controlPlane.startupMs,
    },
  });
  return () => cluster.stop();
}
