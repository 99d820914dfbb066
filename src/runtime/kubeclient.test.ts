import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeError, KubeHttpError } from './errors.ts';
import { isApiError } from './kube.ts';
import { METADATA_ACCEPT, PatchType } from './kubeapi.ts';
import { KubeClient, KubeTimeoutError } from './kubeclient.ts';
import type { ClusterEntry, LoadedKubeConfig, UserEntry } from './kubeconfig.ts';
import { hasOpenssl, testCa } from './testing/certificates.ts';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
  socket: number;
}

type Handler = (seen: Seen, res: ServerResponse) => void;

let dir: string;
let servers: Server[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeclient-'));
});

afterEach(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  servers = [];
  rmSync(dir, { recursive: true, force: true });
});

async function listen(server: Server, scheme: string): Promise<string> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `${scheme}://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An API server stand-in recording each request (and which connection it came on). */
async function apiServer(handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const sockets = new WeakMap<object, number>();
  let next = 0;
  const server = createServer((req, res) => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, ++next);
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        socket: sockets.get(req.socket) ?? 0,
      };
      seen.push(s);
      handler(s, res);
    });
  });
  return { url: await listen(server, 'http'), seen };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function config(server: string, user: UserEntry = {}, cluster: Partial<ClusterEntry> = {}) {
  const loaded: LoadedKubeConfig = {
    server,
    cluster: { server, ...cluster },
    user,
    namespace: undefined,
    source: {
      kind: 'files',
      document: {
        clusters: [{ name: 'c', cluster: { server, ...cluster } }],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      },
    },
    needsFallback: undefined,
  };
  return loaded;
}

describe('KubeClient requests', () => {
  it('sends the call as client-node named it: path, query params, patch type, JSON body', async () => {
    const api = await apiServer((s, res) => json(res, 200, { kind: 'Secret', echo: s.url }));
    const kube = new KubeClient(config(api.url, { token: 'bearer-1' }));
    const out = await kube.core.patchNamespacedSecret(
      {
        name: 'db creds',
        namespace: 'team-a',
        body: { metadata: { name: 'db creds' } },
        fieldManager: 'smo',
        force: true,
      },
      PatchType.Apply,
    );
    expect(out).toEqual({
      kind: 'Secret',
      echo: '/api/v1/namespaces/team-a/secrets/db%20creds?fieldManager=smo&force=true',
    });
    const [req] = api.seen;
    expect(req?.method).toBe('PATCH');
    expect(req?.headers['content-type']).toBe('application/apply-patch+yaml');
    expect(req?.headers.authorization).toBe('Bearer bearer-1');
    expect(JSON.parse(req?.body ?? '')).toEqual({ metadata: { name: 'db creds' } });
    expect(req?.headers.accept).toBe('application/json');
    // A write can ask for the object's metadata only (PartialObjectMetadata) as its answer.
    await kube.core.patchNamespacedSecret(
      { name: 's', namespace: 'n', body: {} },
      PatchType.Apply,
      'metadata',
    );
    await kube.custom.patchNamespacedCustomObjectStatus(
      { group: 'g.dev', version: 'v1', plural: 'things', namespace: 'n', name: 't', body: {} },
      PatchType.Merge,
      'metadata',
    );
    expect(api.seen.slice(1, 3).map((s) => s.headers.accept)).toEqual([
      METADATA_ACCEPT,
      METADATA_ACCEPT,
    ]);
    api.seen.splice(1, 2);

    await kube.custom.patchClusterCustomObjectStatus(
      { group: 'g.dev', version: 'v1', plural: 'things', name: 't', body: [] },
      PatchType.Json,
    );
    await kube.coordination.replaceNamespacedLease({
      name: 'l',
      namespace: 'ns',
      body: { metadata: { name: 'l' } },
    });
    await kube.core.createNamespacedServiceAccountToken({
      name: 'sa',
      namespace: 'ns',
      body: { spec: { audiences: ['x'] } },
    });
    await kube.apps.patchNamespacedDaemonSet(
      { name: 'd', namespace: 'ns', body: {} },
      PatchType.Merge,
    );
    expect(
      api.seen.slice(1).map((s) => `${s.method} ${s.url} ${s.headers['content-type']}`),
    ).toEqual([
      'PATCH /apis/g.dev/v1/things/t/status application/json-patch+json',
      'PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/l application/json',
      'POST /api/v1/namespaces/ns/serviceaccounts/sa/token application/json',
      'PATCH /apis/apps/v1/namespaces/ns/daemonsets/d application/merge-patch+json',
    ]);
    // Keep-alive: the connections are reused (undici may open a second one for a request sent the
    // moment the previous answer ends), not one per request as client-node 2.x does.
    for (let i = 0; i < 10; i++)
      await kube.core.readNamespacedSecret({ name: 's', namespace: 'n' });
    expect(new Set(api.seen.map((s) => s.socket)).size).toBeLessThanOrEqual(2);
    await kube.close();
  });

  it('throws KubeHttpError with code and Status reason/message, never the body', async () => {
    const api = await apiServer((_s, res) =>
      json(res, 422, {
        kind: 'Status',
        reason: 'Invalid',
        message: 'Secret "x" is invalid',
        details: { causes: [{ message: 'value s3cr3t-value' }] },
      }),
    );
    const kube = new KubeClient(config(api.url));
    const err = await kube.core
      .readNamespacedSecret({ name: 'x', namespace: 'ns' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeHttpError);
    expect(isApiError(err, 422)).toBe(true);
    expect(isApiError(err, 404)).toBe(false);
    expect((err as KubeHttpError).reason).toBe('Invalid');
    expect(describeError(err)).toEqual({
      name: 'KubeHttpError',
      code: 422,
      status: 422,
      message: 'Invalid: Secret "x" is invalid',
    });
    expect(JSON.stringify(describeError(err))).not.toContain('s3cr3t');
    expect(String(err)).not.toContain('s3cr3t');
    await kube.close();
  });

  it('gives up on a request the server does not answer in time', async () => {
    const api = await apiServer(() => {
      // Never answers.
    });
    const kube = new KubeClient(config(api.url), { timeoutMs: 200 });
    const started = Date.now();
    const err = await kube.core
      .readNamespacedConfigMap({ name: 'x', namespace: 'ns' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
    await kube.close();
  });

  it('re-reads a token file (a rotating service account token) once its reuse time is over', async () => {
    const api = await apiServer((_s, res) => json(res, 200, {}));
    const tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, 'first\n');
    let now = 0;
    const kube = new KubeClient(config(api.url, { tokenFile }), {
      fileTtlMs: 60_000,
      now: () => now,
    });
    const read = () => kube.core.readNamespacedSecret({ name: 's', namespace: 'ns' });
    await read();
    writeFileSync(tokenFile, 'second\n');
    now = 59_000;
    await read();
    now = 61_000;
    await read();
    expect(api.seen.map((s) => s.headers.authorization)).toEqual([
      'Bearer first',
      'Bearer first',
      'Bearer second',
    ]);
    await kube.close();
  });

  it('sends basic auth for username and password', async () => {
    const api = await apiServer((_s, res) => json(res, 200, {}));
    const kube = new KubeClient(config(api.url, { username: 'admin', password: 'pw' }));
    await kube.core.readNamespacedSecret({ name: 's', namespace: 'ns' });
    expect(api.seen[0]?.headers.authorization).toBe(
      `Basic ${Buffer.from('admin:pw').toString('base64')}`,
    );
    await kube.close();
  });

  it('sends requests below a server URL that has a path (an API proxy)', async () => {
    const api = await apiServer((_s, res) => json(res, 200, {}));
    const kube = new KubeClient(config(`${api.url}/k8s/clusters/c-1/`));
    await kube.core.readNamespacedSecret({ name: 's', namespace: 'ns' });
    await kube.custom.patchNamespacedCustomObjectStatus(
      {
        group: 'g',
        version: 'v1',
        namespace: 'ns',
        plural: 'xs',
        name: 'x',
        body: {},
        fieldManager: 'm',
      },
      PatchType.Merge,
    );
    expect(api.seen.map((s) => s.url)).toEqual([
      '/k8s/clusters/c-1/api/v1/namespaces/ns/secrets/s',
      '/k8s/clusters/c-1/apis/g/v1/namespaces/ns/xs/x/status?fieldManager=m',
    ]);
    await kube.close();
  });

  it('runs an exec credential plugin through the client-node fallback', async () => {
    const api = await apiServer((_s, res) => json(res, 200, {}));
    const credential = JSON.stringify({
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-exec-plugin' },
    });
    const user: UserEntry = {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `process.stdout.write(${JSON.stringify(credential)})`],
        interactiveMode: 'Never',
      },
    };
    const loaded = { ...config(api.url, user, { 'insecure-skip-tls-verify': true }) };
    loaded.needsFallback = 'exec';
    const kube = new KubeClient(loaded);
    await kube.core.readNamespacedSecret({ name: 's', namespace: 'ns' });
    expect(api.seen[0]?.headers.authorization).toBe('Bearer from-exec-plugin');
    await kube.close();
  });
});

/** A CA, a server certificate for the name `kubernetes` only, and a client certificate. */
function certificates(at: string) {
  const ca = testCa(at, '/CN=ca');
  const srv = ca.issue('srv', '/CN=kubernetes', 'subjectAltName=DNS:kubernetes');
  const client = ca.issue('client', '/CN=operator');
  return {
    ca: ca.ca,
    srv: { key: srv.key, cert: srv.cert },
    caFile: ca.caFile,
    clientCertData: Buffer.from(client.cert).toString('base64'),
    clientKeyFile: client.keyFile,
  };
}

// CI installs openssl (.ci/run) and never skips: without it there the tests fail loudly.
describe.skipIf(!hasOpenssl() && !process.env.CI)('KubeClient TLS', () => {
  it('verifies the server by CA and tls-server-name and presents the client certificate', async () => {
    const certs = certificates(dir);
    const clients: string[] = [];
    const server = createTlsServer(
      { ...certs.srv, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
      (req, res) => {
        clients.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
        json(res, 200, { ok: true });
      },
    );
    const url = await listen(server as unknown as Server, 'https');
    const user = {
      'client-certificate-data': certs.clientCertData,
      'client-key': certs.clientKeyFile,
    };
    const kube = new KubeClient(
      config(url, user, { 'certificate-authority': certs.caFile, 'tls-server-name': 'kubernetes' }),
    );
    expect(await kube.core.readNamespacedSecret({ name: 's', namespace: 'ns' })).toEqual({
      ok: true,
    });
    expect(clients).toEqual(['operator']);
    await kube.close();

    // Without the server name the certificate (for `kubernetes`, not 127.0.0.1) is refused.
    const wrongName = new KubeClient(config(url, user, { 'certificate-authority': certs.caFile }));
    await expect(
      wrongName.core.readNamespacedSecret({ name: 's', namespace: 'ns' }),
    ).rejects.toThrow();
    await wrongName.close();

    // insecure-skip-tls-verify accepts it without the CA.
    const insecure = new KubeClient(config(url, user, { 'insecure-skip-tls-verify': true }));
    await insecure.core.readNamespacedSecret({ name: 's', namespace: 'ns' });
    expect(clients).toEqual(['operator', 'operator']);
    await insecure.close();
  });
});
