// A certificate secret extracted whole into a kubernetes.io/tls Secret: tls.crt (the certificate
// and the intermediates that chain it), tls.key and ca.crt. Proven with a real TLS handshake:
// a node:tls server with the written certificate and key, a client that trusts only ca.crt.
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { connect, createServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeedFile } from '../../../src/emulator/index.ts';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import { createExternalSecret, decoded, readyOf, waitForReason, waitForSecret } from './helpers.ts';

const SAMPLE_SEED = new URL('../../../src/emulator/sample-seed.yaml', import.meta.url).pathname;

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-tls'));
});

afterAll(() => stopFixture(operator, sm));

/** Serves TLS with `cert`/`key`; a client trusting only `ca` connects as `servername`. */
async function handshake(
  data: Record<string, string>,
  servername: string,
): Promise<{ authorized: boolean; echoed: string }> {
  const server = createServer({ cert: data['tls.crt'], key: data['tls.key'] }, (socket) => {
    socket.end('hello over tls');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  try {
    const socket = connect({ host: '127.0.0.1', port, servername, ca: [data['ca.crt'] as string] });
    await once(socket, 'secureConnect');
    const authorized = socket.authorized;
    let echoed = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      echoed += chunk;
    });
    await once(socket, 'end');
    return { authorized, echoed };
  } finally {
    server.close();
  }
}

async function tlsSecret(name: string, extract: Record<string, unknown>) {
  await createExternalSecret(namespace, name, {
    storeRef: sm.storeRef,
    refreshInterval: '1h',
    target: { type: 'kubernetes.io/tls' },
    dataFrom: [{ extract }],
  });
  const secret = await waitForSecret(namespace, name);
  expect(secret.type).toBe('kubernetes.io/tls');
  return decoded(secret);
}

describe('certificates into kubernetes.io/tls Secrets', () => {
  it('an imported certificate: tls.crt, tls.key and its CA; a client trusting the CA connects', async () => {
    const data = await tlsSecret('app-tls', { type: 'imported_cert', name: 'app-tls' });
    expect(Object.keys(data).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
    // Its intermediate is the self-signed CA: it is ca.crt, and not repeated in tls.crt.
    expect(data['tls.crt']?.match(/BEGIN CERTIFICATE/g)).toHaveLength(1);
    expect(await handshake(data, 'app.example.internal')).toEqual({
      authorized: true,
      echoed: 'hello over tls',
    });
  });

  it('a private certificate issued by the instance CA, in a secret group', async () => {
    const data = await tlsSecret('orders-tls', {
      type: 'private_cert',
      name: 'orders-internal-tls',
      group: 'team-a',
    });
    expect(data['tls.key']).toContain('PRIVATE KEY');
    expect(await handshake(data, 'orders.example.internal')).toMatchObject({ authorized: true });
  });

  it('a certificate for another name is refused by the client: the check is real', async () => {
    const data = await tlsSecret('app-tls-2', { type: 'imported_cert', name: 'app-tls' });
    await expect(handshake(data, 'not-app.example.internal')).rejects.toThrow(/altnames|Host/i);
  });

  it('a certificate without a private key cannot make a TLS Secret: nothing written, a clear reason', async () => {
    const seed = await loadSeedFile(SAMPLE_SEED);
    const certificate = seed.secrets?.find((x) => x.name === 'app-tls')?.certificate;
    if (typeof certificate !== 'string') throw new Error('the sample seed has app-tls');
    sm.emulator.createSecret({ type: 'imported_cert', name: 'cert-only', certificate });
    await createExternalSecret(namespace, 'cert-only', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      target: { type: 'kubernetes.io/tls' },
      dataFrom: [{ extract: { type: 'imported_cert', name: 'cert-only' } }],
    });
    const es = await waitForReason(namespace, 'cert-only', 'SyncError');
    expect(readyOf(es)?.message).toContain('has no private key');
    expect(readyOf(es)?.message).not.toContain('BEGIN');
  });
});
