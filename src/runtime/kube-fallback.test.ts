import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { reuseConnections } from './kube-fallback.ts';

const pem = (label: string, body: string) =>
  Buffer.from(
    `-----BEGIN ${label}-----\n${Buffer.from(body).toString('base64')}\n-----END ${label}-----\n`,
  ).toString('base64');

function kubeConfig(clientCert: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: pem('CERTIFICATE', 'ca') }],
    users: [
      { name: 'u', certData: pem('CERTIFICATE', clientCert), keyData: pem('PRIVATE KEY', 'key') },
    ],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const context = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(context);
  return context.getDispatcher();
}

describe('reuseConnections', () => {
  it('hands every request of one TLS configuration the same dispatcher (one connection pool)', async () => {
    const plain = kubeConfig('admin');
    expect(await dispatcherOf(plain)).not.toBe(await dispatcherOf(plain));

    const reused = kubeConfig('admin');
    reuseConnections(reused);
    const first = await dispatcherOf(reused);
    expect(first).toBeDefined();
    expect(await dispatcherOf(reused)).toBe(first);
  });

  it('gives a changed client certificate a dispatcher of its own', async () => {
    const kc = kubeConfig('admin');
    reuseConnections(kc);
    const before = await dispatcherOf(kc);
    kc.users[0] = { ...kc.users[0]!, certData: pem('CERTIFICATE', 'rotated') };
    expect(await dispatcherOf(kc)).not.toBe(before);
  });
});
