/**
 * Private endpoints present certificates from a private CA: the client trusts the store's CA
 * bundle (an undici Agent with `connect.ca`) and says what to fix when it is missing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSecretsManagerClient } from './client.ts';
import type { SecretsManagerError } from './errors.ts';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(dir: string) {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=test private CA',
  ]);
  run(['req', ...ec, '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1']);
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    'srv.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'srv.crt',
    '-days',
    '2',
    '-extfile',
    'ext.cnf',
  ]);
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.crt'), key: read('srv.key'), cert: read('srv.crt') };
}

const available = hasOpenssl();
let dir = '';
let server: Server;
let url = '';
let ca = '';

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), 'sm-tls-'));
  const certs = makeCertificates(dir);
  ca = certs.ca;
  server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/identity/token') {
      res.end(JSON.stringify({ access_token: 'iam-token-over-tls', expires_in: 3600 }));
    } else if (req.url === '/v1/auth/ibmcloud/login') {
      res.end(
        JSON.stringify({ auth: { client_token: 'vault-token-over-tls', lease_duration: 3600 } }),
      );
    } else {
      res.statusCode = 403;
      res.end(JSON.stringify({ errors: ['permission denied'] }));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (!available) return;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

// CI installs openssl (.ci/run) and never skips: without it there the tests fail loudly.
describe.skipIf(!available && !process.env.CI)('private endpoints with a CA bundle', () => {
  it('trusts the endpoint when the store gives its CA', async () => {
    const c = new HttpSecretsManagerClient({
      url,
      iamUrl: url,
      apiKey: 'tls-test-key-123',
      caBundle: ca,
    });
    try {
      await c.validate();
    } finally {
      await c.close();
    }
  });

  it('without the CA fails at once with a hint, not after retries', async () => {
    const c = new HttpSecretsManagerClient({ url, iamUrl: url, apiKey: 'tls-test-key-123' });
    try {
      const e = (await c.validate().catch((x) => x)) as SecretsManagerError;
      expect(e.code).toBe('Unavailable');
      expect(e.retryable).toBe(false);
      expect(e.message).toMatch(/caBundle/);
    } finally {
      await c.close();
    }
  });
});
