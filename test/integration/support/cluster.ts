// What integration tests need to reach the run's shared control plane.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { inject } from 'vitest';
import { type KubeClient, loadKubeConfig } from '../../../src/runtime/kube.ts';

export function kubeconfigPath(): string {
  return inject('kubeconfigPath');
}

/** Directory of kubectl, helm and the control-plane binaries ('' when unknown). */
export function binDir(): string {
  return inject('controlPlaneBinDir');
}

export function binary(name: 'kubectl' | 'helm'): string {
  const dir = binDir();
  return dir ? join(dir, name) : name;
}

/** An admin KubeConfig for the shared API server. */
export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  return kc;
}

/** The operator's own client (kubeconfig loader and REST client) for the shared API server. */
export function operatorKube(): KubeClient {
  return loadKubeConfig(kubeconfigPath(), {});
}

/** Creates a namespace with a unique name starting with `prefix` and returns its name. */
export async function createNamespace(
  prefix: string,
  labels: Record<string, string> = {},
): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`.slice(0, 63);
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name, labels } } });
  return name;
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}
