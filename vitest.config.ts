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
          // Pods consuming the Secrets for real, in k3s via testcontainers. Needs a container
          // engine; without one every test reports itself skipped with the reason.
          name: 'k3s',
          include: ['test/k3s/**/*.test.ts'],
          environment: 'node',
          testTimeout: 600_000,
          hookTimeout: 1_200_000,
        },
      },
    ],
  },
});
