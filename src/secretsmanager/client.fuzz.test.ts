// Property-based tests of the client against malformed servers: whatever IAM or Secrets Manager
// answers (broken JSON, wrong shapes, odd statuses and content types, truncated or huge bodies),
// every call settles with a value or a SecretsManagerError with a known code, and no secret
// value from the answer reaches an error message, its cause, or a log line.
import { inspect } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { describeError } from '../runtime/errors.ts';
import { createLogger } from '../runtime/logger.ts';
import { ERROR_CODES, SecretsManagerError } from './errors.ts';
import {
  arbitraryData,
  iamCredentialsData,
  importedCertData,
  kvData,
  privateCertData,
  publicCertData,
  serviceCredentialsData,
  usernamePasswordData,
} from './testing/fixtures.ts';
import { IAM_URL, type MockReply, SM_URL, vaultEnvelope } from './testing/mock-server.ts';
import { setup } from './testing/setup.ts';
import type { SecretType } from './types.ts';

/** Planted in every value field of the malformed answers; it must never show in an error. */
const CANARY = 'CANARY-9f31c-secret-VALUE-4e7d';
const RUNS = 1_000;

// --- What the client is asked to do -----------------------------------------------------

type Op =
  | { kind: 'getSecret'; type: SecretType }
  | { kind: 'getIamCredentials' }
  | { kind: 'listSecrets' }
  | { kind: 'validate' }
  | { kind: 'revokeLease' }
  | { kind: 'deleteSecretVersionData' }
  | { kind: 'deleteServiceId' };

const SECRET_FIXTURES: Record<Exclude<SecretType, 'iam_credentials'>, () => object> = {
  arbitrary: () => arbitraryData(),
  kv: () => kvData(),
  username_password: () => usernamePasswordData(),
  imported_cert: () => importedCertData(),
  public_cert: () => publicCertData(),
  private_cert: () => privateCertData(),
  service_credentials: () => serviceCredentialsData(),
};

const op: fc.Arbitrary<Op> = fc.oneof(
  fc
    .constantFrom(...(Object.keys(SECRET_FIXTURES) as SecretType[]), 'iam_credentials')
    .map((type) => ({ kind: 'getSecret' as const, type })),
  fc.constantFrom<Op>(
    { kind: 'getIamCredentials' },
    { kind: 'listSecrets' },
    { kind: 'validate' },
    { kind: 'revokeLease' },
    { kind: 'deleteSecretVersionData' },
    { kind: 'deleteServiceId' },
  ),
);

function call(client: ReturnType<typeof setup>['client'], o: Op): Promise<unknown> {
  switch (o.kind) {
    case 'getSecret':
      return client.getSecret({ type: o.type, name: 'fuzzed' });
    case 'getIamCredentials':
      return client.getIamCredentials({ name: 'fuzzed' });
    case 'listSecrets':
      return client.listSecrets({ type: 'arbitrary' });
    case 'validate':
      return client.validate({ fresh: true });
    case 'revokeLease':
      return client.revokeLease('lease-1');
    case 'deleteSecretVersionData':
      return client.deleteSecretVersionData('secret-1', 'version-1');
    case 'deleteServiceId':
      return client.deleteServiceId('ServiceId-1');
  }
}

/** Where the answer to `o` comes from: origin, method and path of the request. */
function route(o: Op): { origin: string; method: string; path: RegExp } {
  switch (o.kind) {
    case 'getSecret':
    case 'getIamCredentials':
    case 'listSecrets':
      return { origin: SM_URL, method: 'GET', path: /^\/v1\/ibmcloud\// };
    case 'validate':
      return { origin: SM_URL, method: 'PUT', path: /^\/v1\/auth\/ibmcloud\/login$/ };
    case 'revokeLease':
      return { origin: SM_URL, method: 'PUT', path: /^\/v1\/sys\/leases\/revoke$/ };
    case 'deleteSecretVersionData':
      return { origin: SM_URL, method: 'DELETE', path: /^\/api\/v2\// };
    case 'deleteServiceId':
      return { origin: IAM_URL, method: 'DELETE', path: /^\/v1\/serviceids\// };
  }
}

// --- What the server answers ------------------------------------------------------------

const VALUE_KEYS = new Set([
  'payload',
  'password',
  'private_key',
  'api_key',
  'apikey',
  'deep',
  'key1',
  'access_token',
  'refresh_token',
  'client_token',
]);

/** A copy of `value` with the canary in every value field (and whole payloads). */
function plant(value: unknown, key = ''): unknown {
  if (VALUE_KEYS.has(key) && (typeof value === 'string' || key === 'payload')) {
    return typeof value === 'string' ? `${CANARY}` : { ...(value as object), v: CANARY };
  }
  if (Array.isArray(value)) return value.map((v) => plant(v));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plant(v, k)]));
  }
  return value;
}

/** The answer a well-behaved server would give for `where`, with the canary planted. */
function wellFormed(where: 'iam' | 'login' | Op): unknown {
  if (where === 'iam') {
    return plant({
      access_token: 'iam-token-fuzz',
      refresh_token: 'r',
      token_type: 'Bearer',
      expires_in: 3600,
      expiration: 1_900_000_000,
    });
  }
  if (where === 'login' || where.kind === 'validate') {
    return plant(
      vaultEnvelope(null, {
        auth: { client_token: 'hvs.fuzz', policies: ['default'], lease_duration: 3600 },
      }),
    );
  }
  switch (where.kind) {
    case 'getSecret':
      return plant(
        vaultEnvelope(
          where.type === 'iam_credentials' ? iamCredentialsData() : SECRET_FIXTURES[where.type](),
        ),
      );
    case 'getIamCredentials':
      return plant(vaultEnvelope(iamCredentialsData()));
    case 'listSecrets':
      return plant(vaultEnvelope({ secrets: [arbitraryData(), kvData()], secrets_total: 2 }));
    default:
      return plant({ data: { payload: CANARY }, errors: null });
  }
}

/** Parsed JSON objects with keys that trip code treating them as ordinary objects. */
const trickyObject = fc
  .constantFrom('toString', 'valueOf', '__proto__', 'constructor', 'then', 'toJSON')
  .chain((k) =>
    fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.parse(`{"${k}":${JSON.stringify(v)}}`)),
  );

const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, 0, -1, 1e308, '', 'null', [], {}),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer({ min: 1_000, max: 200_000 }).map((n) => 'x'.repeat(n)),
  fc.jsonValue({ maxDepth: 3 }),
  trickyObject,
);

type Path = (string | number)[];

function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(value)
    ? value.map((_, i) => i)
    : Object.keys(value);
  return keys.flatMap((k) => {
    const path = [...prefix, k];
    return [path, ...paths((value as Record<string | number, unknown>)[k], path)];
  });
}

/** `value` with up to three fields deleted, replaced by junk, or given junk siblings. */
const mutate = (value: unknown) =>
  fc
    .array(
      fc.record({
        op: fc.constantFrom('replace', 'delete', 'add'),
        at: fc.nat(),
        key: fc.constantFrom('errors', 'extra', 'toString', 'data', 'auth', 'secret_type'),
        junk,
      }),
      { minLength: 1, maxLength: 3 },
    )
    .map((mutations) => {
      const copy = structuredClone(value) as Record<string, unknown>;
      for (const m of mutations) {
        const all = paths(copy);
        if (all.length === 0) return m.junk;
        const path = all[m.at % all.length] as Path;
        const parent = path
          .slice(0, -1)
          .reduce<unknown>((n, k) => (n as Record<string | number, unknown>)[k], copy) as Record<
          string | number,
          unknown
        >;
        const last = path.at(-1) as string | number;
        if (m.op === 'replace') parent[last] = m.junk;
        else if (m.op === 'delete') delete parent[last];
        else if (parent[last] !== null && typeof parent[last] === 'object') {
          (parent[last] as Record<string, unknown>)[m.key] = m.junk;
        } else parent[last] = { [m.key]: m.junk };
      }
      return copy;
    });

/** One prebuilt body over the client's 8 MiB limit (building one per run would be slow). */
const HUGE = `{"data":{"secret_data":{"payload":"${CANARY}${'x'.repeat(9 * 1024 * 1024)}"}}}`;

const body = (where: 'iam' | 'login' | Op): fc.Arbitrary<Pick<MockReply, 'body' | 'raw'>> => {
  const valid = wellFormed(where);
  const text = JSON.stringify(valid);
  return fc.oneof(
    { weight: 4, arbitrary: mutate(valid).map((b) => ({ body: b })) },
    { weight: 1, arbitrary: fc.constant({ body: valid }) },
    // Truncated JSON (a connection cut mid-body behind a proxy), HTML error pages, garbage.
    {
      weight: 2,
      arbitrary: fc.nat({ max: text.length - 1 }).map((n) => ({ raw: text.slice(0, n) })),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        { raw: `<html><body>502 Bad Gateway ${CANARY.slice(0, 3)}</body></html>` },
        { raw: '' },
        { raw: '\u0000\uffff\ud800' },
        { raw: `${text}${text}` },
        { raw: `{"errors":[${text}]}` },
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((raw) => ({ raw })) },
    { weight: 1, arbitrary: junk.map((b) => ({ body: b })) },
    // Error bodies as Vault (`errors`) and IAM (`errorCode`, `errorMessage`) send them, and not.
    {
      weight: 3,
      arbitrary: fc.oneof(
        fc
          .array(fc.oneof(fc.string({ maxLength: 80 }), trickyObject, junk), { maxLength: 3 })
          .map((errors) => ({
            body: { errors },
          })),
        fc
          .record({
            errorCode: fc.oneof(fc.string(), trickyObject, junk),
            errorMessage: fc.oneof(fc.string(), trickyObject, junk),
          })
          .map((b) => ({ body: b })),
      ),
    },
    { weight: 1, arbitrary: fc.constant({ raw: HUGE }) },
  );
};

const status = fc.oneof(
  { weight: 4, arbitrary: fc.constant(200) },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      201,
      204,
      301,
      304,
      400,
      401,
      403,
      404,
      408,
      409,
      422,
      429,
      500,
      501,
      502,
      503,
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 200, max: 599 }) },
);

const headers = fc.record(
  {
    'content-type': fc.constantFrom(
      'application/json',
      'text/html; charset=utf-8',
      'text/plain',
      'application/octet-stream',
      'application/json; charset=latin1',
      '',
    ),
    'retry-after': fc.constantFrom('0', '1', '120', 'soon', 'Wed, 21 Oct 2015 07:28:00 GMT', '-5'),
  },
  { requiredKeys: ['content-type'] },
);

const scenario = op.chain((o) =>
  fc.constantFrom<'iam' | 'login' | 'op'>('iam', 'login', 'op').chain((at) => {
    const where = at === 'op' ? o : at;
    return fc.record({
      op: fc.constant(o),
      at: fc.constant(at),
      reply: fc.record({ status, headers, body: body(where) }),
    });
  }),
);

// --- The property -----------------------------------------------------------------------

/** Every text an error shows: message, stack, JSON, inspect (with cause), and a log line. */
function everyTextOf(e: unknown): string[] {
  const lines: string[] = [];
  const log = createLogger({
    level: 'info',
    destination: { write: (line: string) => lines.push(line) },
  });
  log.error({ err: e }, 'call failed');
  const err = e as Error;
  return [
    String(err.message),
    String(err.stack),
    JSON.stringify(e),
    inspect(e, { depth: 10 }),
    JSON.stringify(describeError(e)),
    ...lines,
  ];
}

describe('the client against malformed servers', () => {
  it(`settles with a value or a typed error, and leaks no value (${RUNS} answers)`, {
    timeout: 120_000,
  }, async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(scenario, async ({ op: o, at, reply }) => {
        const s = setup({ retry: { maxAttempts: 2 } });
        try {
          const answer = async (): Promise<MockReply> => ({
            status: reply.status,
            headers: reply.headers,
            ...reply.body,
          });
          if (at === 'iam') s.server.on(IAM_URL, 'POST', '/identity/token', answer);
          else if (at === 'login') s.server.on(SM_URL, 'PUT', '/v1/auth/ibmcloud/login', answer);
          else {
            const r = route(o);
            const vault = r.origin === SM_URL && r.method !== 'DELETE';
            s.server.on(
              r.origin,
              r.method,
              r.path,
              (req) =>
                // Vault calls still need a valid token, so the answer is the call's own.
                (vault && o.kind !== 'validate' ? s.server.requireVault(req) : undefined) ??
                answer(),
            );
          }
          let outcome: unknown;
          try {
            await s.run(call(s.client, o));
            outcome = 'ok';
          } catch (e) {
            outcome = e;
          }
          if (outcome === 'ok') {
            seen.set('ok', (seen.get('ok') ?? 0) + 1);
            return;
          }
          expect(outcome).toBeInstanceOf(SecretsManagerError);
          const err = outcome as SecretsManagerError;
          expect(ERROR_CODES).toContain(err.code);
          seen.set(err.code, (seen.get(err.code) ?? 0) + 1);
          for (const text of everyTextOf(err)) expect(text).not.toContain(CANARY);
        } finally {
          await s.client.close();
          await s.server.close();
        }
      }),
      { numRuns: RUNS },
    );
    // The generator reaches the interesting outcomes, not just one of them.
    for (const code of ['InvalidResponse', 'Unavailable', 'Unauthenticated', 'NotFound']) {
      expect(seen.get(code) ?? 0, `${code} in ${JSON.stringify([...seen])}`).toBeGreaterThan(5);
    }
  });
});
