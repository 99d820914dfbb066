// The one place the operator's runtime loads client-node: for kubeconfigs whose credentials our
// loader does not implement (exec credential plugins, auth providers such as OIDC, proxy-url).
// Everyone else never pays for its ~75 MiB (test/unit/runtime-imports.test.ts keeps it so).
import type { KubeConfig } from '@kubernetes/client-node';
import type { AuthSource, LoadedKubeConfig } from './kubeconfig.ts';
import { Agent, type Dispatcher } from './undici.ts';

/** client-node's KubeConfig over the same merged document, asked for each request's credentials. */
export async function clientNodeAuth(config: LoadedKubeConfig): Promise<AuthSource> {
  const { HttpMethod, KubeConfig, RequestContext } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (config.source.kind === 'in-cluster') kc.loadFromCluster();
  else kc.loadFromString(JSON.stringify(config.source.document));
  const pools = reuseConnections(kc);
  const plain = new Agent({ connect: { keepAlive: true, keepAliveInitialDelay: 30_000 } });
  return {
    async auth(href, method) {
      const verb = (HttpMethod as Record<string, string>)[method] ?? HttpMethod.GET;
      const ctx = new RequestContext(href, verb as (typeof HttpMethod)['GET']);
      await kc.applySecurityAuthentication(ctx);
      const dispatcher = (ctx.getDispatcher() as Dispatcher | undefined) ?? plain;
      return { headers: { ...ctx.getHeaders() }, dispatcher };
    },
    async close() {
      await Promise.all([plain, ...pools].map((d) => (d as Dispatcher).close().catch(() => {})));
    },
  };
}

type DispatcherFactory = (cluster: unknown, agentOptions: unknown) => object | undefined;

/**
 * client-node 2.x builds a new undici Agent, and so a new TLS connection, for every request.
 * This keeps one per distinct TLS configuration (the key includes CA, client certificate and
 * key, so a rotated certificate gets a new one). It relies on a private method; if a later
 * client-node drops it, requests simply go back to a connection each. Returns the live pools.
 */
export function reuseConnections(kc: KubeConfig): Set<object> {
  const pools = new Set<object>();
  const target = kc as unknown as { createDispatcher?: DispatcherFactory };
  const original = target.createDispatcher;
  if (typeof original !== 'function') return pools;
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
      if (dispatcher) pools.add(dispatcher);
      cache.set(key, dispatcher);
    }
    return cache.get(key);
  };
  return pools;
}
