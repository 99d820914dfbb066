// The operator's own kubeconfig loader: client-node's KubeConfig imports every generated model
// and API group (about 75 MiB of RSS) just to be loaded, so the runtime reads kubeconfig files
// itself. Kubeconfigs it cannot serve alone (exec plugins, auth providers, proxies) are handed to
// client-node, imported only then (see kube-fallback.ts). The YAML parser is loaded only for
// kubeconfig files too: a pod with its service account never loads it (12 MiB of RSS in a bare
// Node 24 process).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join } from 'node:path';
import type { Dispatcher } from 'undici';

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export class KubeConfigError extends Error {
  readonly code = 'KUBECONFIG';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KubeConfigError';
  }
}

/** One cluster entry, kubeconfig field names as written in the file. */
export interface ClusterEntry {
  server: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
  'proxy-url'?: string;
  [field: string]: unknown;
}

/** One user entry (AuthInfo), kubeconfig field names. */
export interface UserEntry {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  username?: string;
  password?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  [field: string]: unknown;
}

export interface ContextEntry {
  cluster: string;
  user?: string;
  namespace?: string;
}

/** A kubeconfig with every list merged and every file path absolute. */
export interface KubeConfigDocument {
  clusters: Array<{ name: string; cluster: ClusterEntry }>;
  users: Array<{ name: string; user: UserEntry }>;
  contexts: Array<{ name: string; context: ContextEntry }>;
  'current-context'?: string;
}

/** What the client connects with: the current context's cluster and user. */
export interface LoadedKubeConfig {
  /** The API server URL without a trailing slash. */
  server: string;
  cluster: ClusterEntry;
  user: UserEntry;
  /** The current context's namespace. */
  namespace: string | undefined;
  /** Where it came from: the merged document, or the pod's service account. */
  source: { kind: 'files'; document: KubeConfigDocument } | { kind: 'in-cluster' };
  /** Authentication only client-node can do (exec plugin, auth provider, proxy-url). */
  needsFallback: string | undefined;
}

/** Credentials and connection pool for one request. */
export interface RequestAuth {
  headers: Record<string, string>;
  dispatcher: Dispatcher;
}

/** Where a request's credentials come from (ours, or client-node's for exec plugins and such). */
export interface AuthSource {
  /** `href`: the request's whole address (only client-node's fallback looks at it). */
  auth(href: string, method: string): Promise<RequestAuth>;
  close(): Promise<void>;
}

export type Env = Readonly<Record<string, string | undefined>>;

function runningInCluster(env: Env, dir: string): boolean {
  return Boolean(env.KUBERNETES_SERVICE_HOST) && existsSync(`${dir}/token`);
}

/**
 * Loads the kubeconfig the way controller-runtime does: an explicit path (`--kubeconfig` or
 * KUBECONFIG, several files joined with the path delimiter are merged as kubectl merges them),
 * else the in-cluster service account, else ~/.kube/config.
 */
export function loadKubeConfigFile(
  path: string | undefined,
  env: Env = process.env,
  serviceAccountDir: string = SERVICE_ACCOUNT_DIR,
): LoadedKubeConfig {
  let loaded: LoadedKubeConfig | undefined;
  try {
    if (path?.includes(delimiter)) {
      if (env.KUBECONFIG !== path && process.env.KUBECONFIG !== path) {
        throw new KubeConfigError(`--kubeconfig takes one file; got the list "${path}"`);
      }
      loaded = fromDocument(mergeFiles(path.split(delimiter).filter((f) => f !== '')));
    } else if (path) {
      if (!existsSync(path)) throw new KubeConfigError(`kubeconfig file ${path} does not exist`);
      loaded = fromDocument(mergeFiles([path]));
    } else if (runningInCluster(env, serviceAccountDir)) {
      loaded = inCluster(env, serviceAccountDir);
    } else {
      const files = (env.KUBECONFIG ?? '').split(delimiter).filter((f) => f !== '');
      if (files.length > 0) loaded = fromDocument(mergeFiles(files));
      else {
        const home = join(env.HOME ?? homedir(), '.kube', 'config');
        if (existsSync(home)) loaded = fromDocument(mergeFiles([home]));
      }
    }
  } catch (err) {
    if (err instanceof KubeConfigError) throw err;
    throw new KubeConfigError(`cannot load the kubeconfig: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!loaded) {
    throw new KubeConfigError(
      'no Kubernetes cluster configured: pass --kubeconfig, set KUBECONFIG, or run in a cluster',
    );
  }
  return loaded;
}

/** The pod's service account: token, CA and namespace files, the service's host and port. */
function inCluster(env: Env, dir: string): LoadedKubeConfig {
  const host = env.KUBERNETES_SERVICE_HOST as string;
  const port = env.KUBERNETES_SERVICE_PORT ?? '443';
  const hostPart = isIPv6(host) ? `[${host}]` : host;
  // As client-node's in-cluster config: the plain HTTP ports of a local proxy.
  const scheme = port === '80' || port === '8080' || port === '8001' ? 'http' : 'https';
  const cluster: ClusterEntry = {
    server: `${scheme}://${hostPart}:${port}`,
    'certificate-authority': `${dir}/ca.crt`,
  };
  let namespace: string | undefined;
  try {
    namespace = readFileSync(`${dir}/namespace`, 'utf8').trim() || undefined;
  } catch {
    namespace = undefined;
  }
  return {
    server: cluster.server,
    cluster,
    user: { tokenFile: `${dir}/token` },
    namespace,
    source: { kind: 'in-cluster' },
    needsFallback: undefined,
  };
}

function list(value: unknown, file: string, field: string): Array<Record<string, unknown>> {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new KubeConfigError(`${file}: ${field} is not a list`);
  return value.filter(
    (v): v is Record<string, unknown> => typeof v === 'object' && v !== null && 'name' in v,
  );
}

const CLUSTER_PATHS = ['certificate-authority'];
const USER_PATHS = ['client-certificate', 'client-key', 'tokenFile'];

/** A relative path in a kubeconfig is relative to the file, as kubectl reads it. */
function absolutePaths(entry: Record<string, unknown>, fields: string[], root: string): void {
  for (const field of fields) {
    const value = entry[field];
    if (typeof value === 'string' && value !== '' && !isAbsolute(value)) {
      entry[field] = join(root, value);
    }
  }
}

const loadYaml = () => createRequire(import.meta.url)('yaml') as typeof import('yaml');

/** kubectl's merge: the first file that names a cluster, user, context or current-context wins. */
export function mergeFiles(files: readonly string[]): KubeConfigDocument {
  const { parse } = loadYaml();
  const doc: KubeConfigDocument = { clusters: [], users: [], contexts: [] };
  const seen = { clusters: new Set<string>(), users: new Set<string>(), contexts: new Set() };
  for (const file of files) {
    if (!existsSync(file)) continue;
    const parsed: unknown = parse(readFileSync(file, 'utf8'));
    if (parsed === null || parsed === undefined) continue;
    if (typeof parsed !== 'object') throw new KubeConfigError(`${file} is not a kubeconfig`);
    const obj = parsed as Record<string, unknown>;
    const root = dirname(file);
    for (const c of list(obj.clusters, file, 'clusters')) {
      const name = String(c.name);
      if (seen.clusters.has(name)) continue;
      seen.clusters.add(name);
      const cluster = { ...(c.cluster as ClusterEntry) };
      absolutePaths(cluster, CLUSTER_PATHS, root);
      doc.clusters.push({ name, cluster });
    }
    for (const u of list(obj.users, file, 'users')) {
      const name = String(u.name);
      if (seen.users.has(name)) continue;
      seen.users.add(name);
      const user = { ...((u.user ?? {}) as UserEntry) };
      absolutePaths(user, USER_PATHS, root);
      doc.users.push({ name, user });
    }
    for (const x of list(obj.contexts, file, 'contexts')) {
      const name = String(x.name);
      if (seen.contexts.has(name)) continue;
      seen.contexts.add(name);
      doc.contexts.push({ name, context: { ...(x.context as ContextEntry) } });
    }
    const current = obj['current-context'];
    if (doc['current-context'] === undefined && typeof current === 'string' && current !== '') {
      doc['current-context'] = current;
    }
  }
  return doc;
}

function fromDocument(doc: KubeConfigDocument): LoadedKubeConfig | undefined {
  const context = doc.contexts.find((c) => c.name === doc['current-context'])?.context;
  if (!context) return undefined;
  const cluster = doc.clusters.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster || typeof cluster.server !== 'string' || cluster.server === '') return undefined;
  const user = doc.users.find((u) => u.name === context.user)?.user ?? {};
  const needsFallback = user.exec
    ? 'exec'
    : user['auth-provider']
      ? 'auth-provider'
      : cluster['proxy-url']
        ? 'proxy-url'
        : undefined;
  return {
    server: cluster.server.replace(/\/+$/, ''),
    cluster,
    user,
    namespace: context.namespace || undefined,
    source: { kind: 'files', document: doc },
    needsFallback,
  };
}
