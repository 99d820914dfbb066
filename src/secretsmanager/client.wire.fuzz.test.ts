// What MockAgent cannot produce: answers broken on the wire. A raw TCP server answers the
// secret read with a response cut short (fewer bytes than Content-Length, a chunked body that
// stops), a connection closed or reset mid-body, or bytes that are not HTTP at all, with the
// canary in the part that did arrive. The client must end with a typed error that names none
// of it, on a real socket and the real clock.
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpSecretsManagerClient } from './client.ts';
import { ERROR_CODES, SecretsManagerError } from './errors.ts';
import { arbitraryData } from './testing/fixtures.ts';
import { vaultEnvelope } from './testing/mock-server.ts';

const CANARY = 'CANARY-wire-5b0e-secret-VALUE';
const API_KEY = 'wire-test-api-key-0123456789';
const RUNS = 150;

type Mode = 'short' | 'chunked-cut' | 'reset' | 'close-headers' | 'garbage';

interface Answer {
  mode: Mode;
  status: number;
  /** How much of the body is sent before the connection ends. */
  cut: number;
}

let answer: Answer = { mode: 'short', status: 200, cut: 0 };
let server: Server;
let base: string;

// The value first, so that a few bytes in, the part that arrived already holds it.
const { data: _data, ...envelope } = vaultEnvelope(null);
const { secret_data: _value, ...metadata } = arbitraryData();
const secretBody = JSON.stringify({
  data: { secret_data: { payload: CANARY.repeat(20) }, ...metadata },
  ...envelope,
});

function reply(socket: Socket, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} X\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

function broken(socket: Socket, a: Answer): void {
  const part = secretBody.slice(0, a.cut);
  const head = `HTTP/1.1 ${a.status} X\r\ncontent-type: application/json\r\n`;
  switch (a.mode) {
    case 'short':
      socket.end(`${head}content-length: ${Buffer.byteLength(secretBody)}\r\n\r\n${part}`);
      return;
    case 'chunked-cut':
      socket.end(
        `${head}transfer-encoding: chunked\r\n\r\n${Buffer.byteLength(secretBody).toString(16)}\r\n${part}`,
      );
      return;
    case 'reset':
      socket.write(`${head}content-length: ${Buffer.byteLength(secretBody)}\r\n\r\n${part}`, () =>
        socket.resetAndDestroy(),
      );
      return;
    case 'close-headers':
      socket.end(`${head}content-le`);
      return;
    case 'garbage':
      socket.end(`${part}\r\n\r\n`);
      return;
  }
}

beforeAll(async () => {
  server = createServer((socket) => {
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buffered.slice(0, end))?.[1] ?? 0);
      if (buffered.length < end + 4 + length) return;
      const requestLine = buffered.slice(0, buffered.indexOf('\r\n'));
      if (requestLine.startsWith('POST /identity/token')) {
        reply(socket, 200, JSON.stringify({ access_token: 'iam-wire', expires_in: 3600 }));
      } else if (requestLine.startsWith('PUT /v1/auth/ibmcloud/login')) {
        reply(
          socket,
          200,
          JSON.stringify({ auth: { client_token: 'hvs.wire', lease_duration: 3600 } }),
        );
      } else broken(socket, answer);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  base = `http://127.0.0.1:${address.port}`;
});

afterAll(async () => {
  server.close();
});

const answers: fc.Arbitrary<Answer> = fc.record({
  mode: fc.constantFrom<Mode>('short', 'chunked-cut', 'reset', 'close-headers', 'garbage'),
  status: fc.constantFrom(200, 404, 500),
  cut: fc.nat({ max: secretBody.length - 1 }),
});

describe('the client against answers broken on the wire', () => {
  it(`ends with a typed error naming none of the partial body (${RUNS} answers)`, {
    timeout: 120_000,
  }, async () => {
    const codes = new Set<string>();
    await fc.assert(
      fc.asyncProperty(answers, async (a) => {
        answer = a;
        const client = new HttpSecretsManagerClient({
          url: base,
          iamUrl: base,
          apiKey: API_KEY,
          requestTimeoutMs: 5_000,
          retry: { maxAttempts: 1 },
        });
        try {
          await client.getSecret({ type: 'arbitrary', name: 'wire' });
          throw new Error(`a broken answer was accepted: ${JSON.stringify(a)}`);
        } catch (e) {
          expect(e).toBeInstanceOf(SecretsManagerError);
          const err = e as SecretsManagerError;
          expect(ERROR_CODES).toContain(err.code);
          codes.add(err.code);
          for (const text of [err.message, String(err.stack), JSON.stringify(err), inspect(err)]) {
            expect(text).not.toContain(CANARY.slice(0, 12));
          }
        } finally {
          await client.close();
        }
      }),
      { numRuns: RUNS },
    );
    // A body cut short is a transport failure, worth retrying, whatever the status said.
    expect([...codes]).toEqual(['Unavailable']);
  });
});
