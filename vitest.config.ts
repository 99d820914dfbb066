import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'test/unit/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          // One control plane per run, shared by every integration file.
          globalSetup: ['test/setup/controlplane.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Files share one API server; each works in namespaces of its own, so they can run
          // side by side, but two cores do not gain from more than two at once.
          maxWorkers: 2,
        },
      },
      {
        test: {
          // Real pods: a node (containerd, kubelet, kube-proxy) joined to a control plane of its
          // own, the operator image built from the Dockerfile, the chart installed with it.
          // Linux and root only; the set-up installs what the node needs, or fails naming it.
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          environment: 'node',
          globalSetup: ['test/setup/node.ts'],
          // One file at a time: each runs a cluster's worth of processes on two cores.
          fileParallelism: false,
          testTimeout: 240_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
