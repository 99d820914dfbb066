import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasOpenssl, testCa } from '../runtime/testing/certificates.ts';
import { HttpSecretsManagerClient } from './client.ts';
import type { SecretsManagerError } from './errors.ts';

/** A throwaway CA and a server certificate for 127.0.0.1 signed by it. */
function makeCertificates(dir: string) {
  const ca = testCa(dir, '/CN=test private CA');
  const srv = ca.issue('srv', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  return { ca: ca.ca, key: srv.key, cert: srv.cert };
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
