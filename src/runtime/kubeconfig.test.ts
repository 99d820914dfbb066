import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { KubeConfigError, loadKubeConfigFile } from './kubeconfig.ts';

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, doc: unknown): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof doc === 'string' ? doc : stringify(doc));
  return path;
}

function kubeconfig(o: {
  context: string;
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
}) {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: Object.entries(o.clusters ?? {}).map(([name, cluster]) => ({ name, cluster })),
    users: Object.entries(o.users ?? {}).map(([name, user]) => ({ name, user })),
    contexts: Object.entries(o.contexts ?? {}).map(([name, context]) => ({ name, context })),
    'current-context': o.context,
  };
}

describe('loadKubeConfigFile', () => {
  it('reads the current context: server, CA and client certificate, namespace', () => {
    const path = write(
      'config',
      kubeconfig({
        context: 'dev',
        clusters: {
          prod: { server: 'https://prod:6443' },
          dev: {
            server: 'https://dev:6443/',
            'certificate-authority-data': 'Q0E=',
            'tls-server-name': 'kubernetes',
          },
        },
        users: { me: { 'client-certificate-data': 'Q0VSVA==', 'client-key-data': 'S0VZ' } },
        contexts: { dev: { cluster: 'dev', user: 'me', namespace: 'team-a' } },
      }),
    );
    const loaded = loadKubeConfigFile(path, {});
    expect(loaded.server).toBe('https://dev:6443');
    expect(loaded.cluster['certificate-authority-data']).toBe('Q0E=');
    expect(loaded.cluster['tls-server-name']).toBe('kubernetes');
    expect(loaded.user['client-key-data']).toBe('S0VZ');
    expect(loaded.namespace).toBe('team-a');
    expect(loaded.needsFallback).toBeUndefined();
  });

  it('makes file paths relative to the kubeconfig that names them', () => {
    const path = write(
      'sub/config',
      kubeconfig({
        context: 'x',
        clusters: { c: { server: 'https://c', 'certificate-authority': 'pki/ca.crt' } },
        users: {
          u: { 'client-certificate': '/abs/cert.pem', 'client-key': 'key.pem', tokenFile: 'tok' },
        },
        contexts: { x: { cluster: 'c', user: 'u' } },
      }),
    );
    const loaded = loadKubeConfigFile(path, {});
    expect(loaded.cluster['certificate-authority']).toBe(join(dir, 'sub/pki/ca.crt'));
    expect(loaded.user['client-certificate']).toBe('/abs/cert.pem');
    expect(loaded.user['client-key']).toBe(join(dir, 'sub/key.pem'));
    expect(loaded.user.tokenFile).toBe(join(dir, 'sub/tok'));
  });

  it('merges a KUBECONFIG list as kubectl does: the first file naming an entry wins', () => {
    const first = write(
      'a',
      kubeconfig({
        context: 'one',
        clusters: { shared: { server: 'https://from-a' } },
        contexts: { one: { cluster: 'shared', user: 'u' } },
      }),
    );
    const second = write(
      'b',
      kubeconfig({
        context: 'two',
        clusters: { shared: { server: 'https://from-b' } },
        users: { u: { token: 'from-b' } },
        contexts: { two: { cluster: 'shared' } },
      }),
    );
    const list = `${first}${delimiter}${second}`;
    const loaded = loadKubeConfigFile(list, { KUBECONFIG: list });
    expect(loaded.server).toBe('https://from-a');
    expect(loaded.user.token).toBe('from-b');
    // And from KUBECONFIG alone, with no --kubeconfig.
    expect(loadKubeConfigFile(undefined, { KUBECONFIG: list }).server).toBe('https://from-a');
  });

  it('refuses a list passed as --kubeconfig that is not KUBECONFIG', () => {
    expect(() => loadKubeConfigFile(`a${delimiter}b`, {})).toThrow(
      /--kubeconfig takes one file; got the list/,
    );
  });

  it('says which file is missing, and when nothing is configured', () => {
    expect(() => loadKubeConfigFile(join(dir, 'nope'), {})).toThrow(
      new KubeConfigError(`kubeconfig file ${join(dir, 'nope')} does not exist`),
    );
    const empty = write('empty', kubeconfig({ context: 'missing' }));
    expect(() => loadKubeConfigFile(empty, {})).toThrow(/no Kubernetes cluster configured/);
    expect(() => loadKubeConfigFile(undefined, { HOME: dir })).toThrow(
      /no Kubernetes cluster configured/,
    );
    const broken = write('broken', 'clusters: 3\n');
    expect(() => loadKubeConfigFile(broken, {})).toThrow(/cannot load the kubeconfig|not a list/);
  });

  it('falls back to ~/.kube/config', () => {
    write(
      '.kube/config',
      kubeconfig({
        context: 'home',
        clusters: { c: { server: 'https://home:6443' } },
        contexts: { home: { cluster: 'c' } },
      }),
    );
    expect(loadKubeConfigFile(undefined, { HOME: dir }, join(dir, 'no-sa')).server).toBe(
      'https://home:6443',
    );
  });

  it('hands exec plugins, auth providers and proxies to the client-node fallback', () => {
    const cases: Array<[Record<string, unknown>, Record<string, unknown>, string]> = [
      [{ server: 'https://c' }, { exec: { command: 'aws' } }, 'exec'],
      [{ server: 'https://c' }, { 'auth-provider': { name: 'oidc' } }, 'auth-provider'],
      [{ server: 'https://c', 'proxy-url': 'http://proxy:3128' }, { token: 't' }, 'proxy-url'],
    ];
    for (const [cluster, user, expected] of cases) {
      const path = write(
        `fallback-${expected}`,
        kubeconfig({
          context: 'x',
          clusters: { c: cluster },
          users: { u: user },
          contexts: { x: { cluster: 'c', user: 'u' } },
        }),
      );
      expect(loadKubeConfigFile(path, {}).needsFallback).toBe(expected);
    }
  });
});

describe('in-cluster', () => {
  function serviceAccount(): string {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token\n');
    writeFileSync(join(sa, 'ca.crt'), 'CA');
    writeFileSync(join(sa, 'namespace'), 'operators\n');
    return sa;
  }

  it('uses the service account: token file, CA file, namespace, service host and port', () => {
    const sa = serviceAccount();
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const loaded = loadKubeConfigFile(undefined, env, sa);
    expect(loaded.server).toBe('https://10.0.0.1:443');
    expect(loaded.user.tokenFile).toBe(join(sa, 'token'));
    expect(loaded.cluster['certificate-authority']).toBe(join(sa, 'ca.crt'));
    expect(loaded.namespace).toBe('operators');
    expect(loaded.source.kind).toBe('in-cluster');
  });

  it('puts an IPv6 service host in brackets', () => {
    const sa = serviceAccount();
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' };
    expect(loadKubeConfigFile(undefined, env, sa).server).toBe('https://[fd00::1]:6443');
  });

  it('prefers an explicit kubeconfig, and ignores the service account without the env', () => {
    const sa = serviceAccount();
    const path = write(
      'config',
      kubeconfig({
        context: 'x',
        clusters: { c: { server: 'https://explicit' } },
        contexts: { x: { cluster: 'c' } },
      }),
    );
    const env = { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    expect(loadKubeConfigFile(path, env, sa).server).toBe('https://explicit');
    expect(() => loadKubeConfigFile(undefined, { HOME: dir }, sa)).toThrow(KubeConfigError);
  });
});
