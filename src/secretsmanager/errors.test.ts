import { inspect } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import {
  isForbidden,
  isNotFound,
  isRetryable,
  isSecretsManagerError,
  SecretsManagerError,
  scrub,
} from './errors.ts';
import { iamCredentialsData, kvData, VALUES } from './testing/fixtures.ts';
import {
  API_KEY,
  IAM_URL,
  type MockRequest,
  type MockSecretsManager,
  SM_URL,
  vaultEnvelope,
} from './testing/mock-server.ts';
import { setup } from './testing/setup.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function env() {
  const s = setup({ retry: { maxAttempts: 1 } });
  server = s.server;
  return s;
}

/** Every way an error may be printed, logged or serialised. */
function renderings(e: unknown): string[] {
  const err = e as SecretsManagerError;
  return [
    err.message,
    String(err.stack),
    JSON.stringify(err),
    String(e),
    inspect(e, { depth: 5 }),
    JSON.stringify(err.cause ?? null),
  ];
}

function expectNoneOf(e: unknown, secrets: string[]) {
  expect(isSecretsManagerError(e)).toBe(true);
  for (const text of renderings(e)) {
    for (const s of secrets) expect(text).not.toContain(s);
  }
}

function tokensSeen(requests: MockRequest[]): string[] {
  const out = new Set<string>();
  for (const r of requests) {
    if (r.headers['x-vault-token']) out.add(r.headers['x-vault-token']);
    if (r.path === '/v1/auth/ibmcloud/login') out.add(JSON.parse(r.body).token);
  }
  return [...out];
}

describe('errors carry no secret material', () => {
  it('when IAM echoes the API key back', async () => {
    const { server, fail, client } = env();
    server.on(IAM_URL, 'POST', '/identity/token', () => ({
      status: 400,
      body: {
        errorCode: 'BXNIM0415E',
        errorMessage: `Provided API key ${API_KEY} could not be found`,
      },
    }));
    const e = await fail(client.validate());
    expectNoneOf(e, [API_KEY]);
    expect((e as Error).message).toContain('BXNIM0415E');
  });

  it('when Vault echoes the tokens in an error', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/kv\/secrets\/x$/, (req) => ({
      status: 400,
      body: {
        errors: [`bad request with token ${req.headers['x-vault-token']} for key ${API_KEY}`],
      },
    }));
    const e = await fail(client.getSecret({ type: 'kv', id: 'x' }));
    const seen = tokensSeen(server.requests);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expectNoneOf(e, [API_KEY, ...seen]);
    expect((e as Error).message).toContain('[REDACTED]');
  });

  it('when the response holds secret values in an unexpected shape', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/kv\/secrets\/x$/, () => ({
      status: 200,
      body: vaultEnvelope(kvData({ secret_data: { payload: VALUES.kvNested } })),
    }));
    const e = await fail(client.getSecret({ type: 'kv', id: 'x' }));
    expectNoneOf(e, [VALUES.kvNested, API_KEY, ...tokensSeen(server.requests)]);
  });

  it('when an iam_credentials response is malformed around the minted key', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/creds\/c$/, () => ({
      status: 200,
      body: vaultEnvelope(iamCredentialsData({ ttl: 'forever', api_key: VALUES.iamApiKey })),
    }));
    const e = await fail(client.getIamCredentials({ id: 'c' }));
    expectNoneOf(e, [VALUES.iamApiKey]);
  });

  it('when a network error message contains a token', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/kv\/secrets\/x$/, (req) => {
      throw Object.assign(new Error(`socket hang up (token ${req.headers['x-vault-token']})`), {
        code: 'ECONNRESET',
      });
    });
    const e = (await fail(client.getSecret({ type: 'kv', id: 'x' }))) as SecretsManagerError;
    expect(e.cause?.code).toBe('ECONNRESET');
    expectNoneOf(e, [API_KEY, ...tokensSeen(server.requests)]);
  });

  it('when the login is refused', async () => {
    const { server, fail, client } = env();
    server.on(SM_URL, 'PUT', '/v1/auth/ibmcloud/login', (req) => ({
      status: 403,
      body: { errors: [`denied for ${JSON.parse(req.body).token}`] },
    }));
    const e = await fail(client.validate());
    expectNoneOf(e, [API_KEY, ...tokensSeen(server.requests)]);
  });
});

describe('odd error bodies still give typed errors (found by client.fuzz.test.ts)', () => {
  it('keeps the strings of a Vault errors array and leaves out objects, even {"toString": 1}', async () => {
    const { server, fail, client } = env();
    server.vaultGet(/kv\/secrets\/x$/, () => ({
      status: 500,
      raw: `{"errors":[{"toString":1},{"password":"${VALUES.password}"},"backend down"]}`,
    }));
    const e = await fail(client.getSecret({ type: 'kv', id: 'x' }));
    expect(e).toBeInstanceOf(SecretsManagerError);
    expect((e as SecretsManagerError).code).toBe('Unavailable');
    expect((e as Error).message).toContain('HTTP 500: backend down;');
    expectNoneOf(e, [VALUES.password]);
  });
});

describe('SecretsManagerError', () => {
  it('has stable codes, predicates and a JSON form', () => {
    const e = new SecretsManagerError('NotFound', 'gone', { status: 404, operation: 'get_secret' });
    expect(isNotFound(e)).toBe(true);
    expect(isForbidden(e)).toBe(false);
    expect(isRetryable(e)).toBe(false);
    expect(isRetryable(new SecretsManagerError('Unavailable', 'x'))).toBe(true);
    expect(JSON.parse(JSON.stringify(e))).toMatchObject({
      name: 'SecretsManagerError',
      code: 'NotFound',
      status: 404,
      retryable: false,
      operation: 'get_secret',
    });
    expect(isNotFound(new Error('NotFound'))).toBe(false);
  });

  it('scrub ignores strings too short to be secrets', () => {
    expect(scrub('a token abcd and x', ['abcd', 'x', undefined])).toBe('a token [REDACTED] and x');
  });
});
