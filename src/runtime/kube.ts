import { existsSync, readFileSync } from 'node:fs';
import { KubeHttpError } from './errors.ts';
import { KubeClient, type KubeClientOptions } from './kubeclient.ts';
import { type Env, loadKubeConfigFile, SERVICE_ACCOUNT_DIR } from './kubeconfig.ts';

export { KubeHttpError } from './errors.ts';
export { KubeClient } from './kubeclient.ts';
export { KubeConfigError, SERVICE_ACCOUNT_DIR } from './kubeconfig.ts';

/**
 * Loads the kubeconfig the way controller-runtime does (an explicit path, `--kubeconfig` or a
 * KUBECONFIG list merged as kubectl merges it; else the in-cluster service account; else
 * ~/.kube/config) and returns the client over it. Throws `KubeConfigError` when there is none.
 */
export function loadKubeConfig(
  path: string | undefined,
  env: Env = process.env,
  options: KubeClientOptions & { serviceAccountDir?: string } = {},
): KubeClient {
  const { serviceAccountDir, ...clientOptions } = options;
  return new KubeClient(loadKubeConfigFile(path, env, serviceAccountDir), clientOptions);
}

/** The namespace this pod runs in, when it runs in a cluster (POD_NAMESPACE wins). */
export function ownNamespace(
  env: Readonly<Record<string, string | undefined>> = process.env,
  readFile: (path: string) => string | undefined = readIfExists,
): string | undefined {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  return readFile(`${SERVICE_ACCOUNT_DIR}/namespace`)?.trim() || undefined;
}

function readIfExists(path: string): string | undefined {
  try {
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `err` is an HTTP error answer of the API server with the given status, e.g.
 * `isApiError(e, 404)` for "not found", `isApiError(e, 409)` for a conflict. Without `code` it
 * matches any API error. Ours is `KubeHttpError`; client-node's `ApiException` (tests and tools
 * still call client-node) is recognised by its shape, without importing client-node.
 */
export function isApiError(err: unknown, code?: number): err is { code: number } {
  const http =
    err instanceof KubeHttpError ||
    (err instanceof Error &&
      typeof (err as { code?: unknown }).code === 'number' &&
      'body' in err &&
      'headers' in err);
  return http && (code === undefined || (err as { code: number }).code === code);
}
