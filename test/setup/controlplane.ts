// vitest global setup of the integration project: one real control plane per run.
//
// SMO_TEST_KUBECONFIG points the tests at a control plane that is already running (for example
// one started with `npm run cluster -- --dir .tmp/cluster`), which saves its start-up while
// iterating. Without it, a control plane is built (first time only) and started here; when that
// fails the run fails with the reason, in CI and everywhere else.

import { KubeConfig } from '@kubernetes/client-node';
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../controlplane/controlplane.ts';
import { installCrds } from '../integration/support/crds.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    controlPlaneBinDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.SMO_TEST_KUBECONFIG;
  if (existing) {
    const kc = new KubeConfig();
    kc.loadFromFile(existing);
    await installCrds(kc, 'global-setup');
    project.provide('kubeconfigPath', existing);
    project.provide('controlPlaneBinDir', process.env.SMO_TEST_BIN_DIR ?? '');
    return async () => {};
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const cp = await startControlPlane({
    log,
    // Before the controller manager starts, so that its garbage collector watches these types
    // from the beginning (it discovers new ones only every 30 s).
    beforeControllers: async (kubeconfigPath) => {
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfigPath);
      await installCrds(kc, 'global-setup');
    },
  });
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  project.provide('controlPlaneBinDir', cp.binDir);
  return () => cp.stop();
}
