// vitest global setup of the integration project: one real control plane per run.
//
// SMO_TEST_KUBECONFIG points the tests at a control plane that is already running (for example
// one started with `npm run cluster -- --dir .tmp/cluster`), which saves its start-up while
// iterating. Without it, a control plane is built (first time only) and started here; when that
// fails the run fails with the reason, in CI and everywhere else.
import type { TestProject } from 'vitest/node';
import { startControlPlane } from '../controlplane/controlplane.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfigPath: string;
    controlPlaneBinDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.SMO_TEST_KUBECONFIG;
  if (existing) {
    project.provide('kubeconfigPath', existing);
    project.provide('controlPlaneBinDir', process.env.SMO_TEST_BIN_DIR ?? '');
    return async () => {};
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const cp = await startControlPlane({ log });
  project.provide('kubeconfigPath', cp.kubeconfigPath);
  project.provide('controlPlaneBinDir', cp.binDir);
  return () => cp.stop();
}
