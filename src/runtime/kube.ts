import { existsSync, readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { ApiException, KubeConfig } from '@kubernetes/client-node';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  readonly code = 'KUBECONFIG';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeConfigError';
  }
}

function runningInCluster(env: Readonly<Record<string, string | undefined>>): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(`${SERVICE_ACCOUNT_DIR}/token`);
}

/**
 * Loads the KubeConfig the way controller-runtime does: an explicit path (`--kubeconfig` or
 * KUBECONFIG, several files joined with the path delimiter are merged), else the in-cluster
 * service account, else ~/.kube/config.
 */
export function loadKubeConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (path?.includes(delimiter)) {
      // loadFromDefault merges a KUBECONFIG list; it reads process.env, so only when it matches.
      if (process.env.KUBECONFIG !== path) {
        throw new KubeConfigError(`--kubeconfig takes one file; got the list "${path}"`);
      }
      kc.loadFromDefault();
    } else if (path) {
      if (!existsSync(path)) throw new KubeConfigError(`kubeconfig file ${path} does not exist`);
      kc.loadFromFile(path);
    } else if (runningInCluster(env)) {
      kc.loadFromCluster();
    } else {
      kc.loadFromDefault();
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load the kubeconfig: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!kc.getCurrentCluster()) {
    throw new KubeConfigError(
      'no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster',
    );
  }
  return reuseConnections(kc);
}

type DispatcherFactory = (cluster: unknown, agentOptions: unknown) => object | undefined;

/**
 * client-node 2.x builds a new undici Agent, and so a new TLS connection, for every request.
 * This keeps one per distinct TLS configuration (the key includes CA, client certificate and
 * key, so a rotated certificate gets a new one). It relies on a private method; if a later
 * client-node drops it, requests simply go back to a connection each.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: DispatcherFactory };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return kc;
  const cache = new Map<string, object | undefined>();
  target.createDispatcher = (cluster, agentOptions) => {
    const key = JSON.stringify(
      kc.createDispatcherOptions(
        cluster as Parameters<KubeConfig['createDispatcherOptions']>[0],
        agentOptions as Parameters<KubeConfig['createDispatcherOptions']>[1],
      ),
    );
    if (!cache.has(key)) {
      const dispatcher = original.call(kc, cluster, agentOptions);
      if (dispatcher) shared.add(dispatcher);
      cache.set(key, dispatcher);
    }
    return cache.get(key);
  };
  return kc;
}

const shared = new WeakSet<object>();

/** Whether `dispatcher` is shared by many requests (and so must not be closed after one). */
export function isSharedDispatcher(dispatcher: object): boolean {
  return shared.has(dispatcher);
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
 * True when `err` is client-node's `ApiException` (or our list/watch `KubeHttpError`) with the
 * given HTTP status, e.g. `isApiError(e, 404)` for "not found", `isApiError(e, 409)` for a
 * conflict. Without `code` it matches any API error.
 */
export function isApiError(err: unknown, code?: number): err is { code: number } {
  if (err instanceof ApiException || err instanceof KubeHttpError) {
    return code === undefined || err.code === code;
  }
  return false;
}

/** An HTTP error from the runtime's own list/watch requests. */
export class KubeHttpError extends Error {
  /** The HTTP status. */
  readonly code: number;
  /** The Kubernetes Status `reason` (e.g. `Expired`, `Forbidden`), when the server sent one. */
  readonly reason: string | undefined;

  constructor(code: number, reason: string | undefined, message: string) {
    super(message);
    this.name = 'KubeHttpError';
    this.code = code;
    this.reason = reason;
  }
}
