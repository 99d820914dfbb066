import { describe, expect, it } from 'vitest';
import { type RemoteSecret, SecretsManagerError } from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { fetchSecretData, pickProperty, wholeValue } from './fetch.ts';

const meta = (
  id: string,
  name: string,
  type: RemoteSecret['type'],
  labels: string[] = [],
  groupId = 'default',
) => ({
  id,
  name,
  type,
  groupId,
  labels,
});

function fake(): FakeSecretsManagerClient {
  return new FakeSecretsManagerClient(() => 1_000_000)
    .put({
      type: 'arbitrary',
      metadata: meta('a1', 'db-url', 'arbitrary', ['dev']),
      payload: 'postgres://x',
    })
    .put({ type: 'arbitrary', metadata: meta('a2', 'other', 'arbitrary', ['prod']), payload: 'o' })
    .put({
      type: 'kv',
      metadata: meta('k1', 'config', 'kv', ['dev']),
      payload: { level: 'info', 'dotted.key': 'top', db: { host: 'h', ports: [5432, 5433] } },
    })
    .put({
      type: 'username_password',
      metadata: meta('u1', 'smtp', 'username_password'),
      username: 'mailer',
      password: 'pw',
    });
}

describe('fetchSecretData', () => {
  it('applies dataFrom in order, then data on top', async () => {
    const result = await fetchSecretData(fake(), {
      dataFrom: [
        { extract: { type: 'kv', name: 'config', keyPrefix: 'c_' } },
        { find: { type: 'arbitrary', labels: ['dev'] } },
        { extract: { type: 'username_password', id: 'u1' } },
      ],
      data: [{ secretKey: 'username', remoteRef: { type: 'arbitrary', id: 'a2' } }],
    });
    expect(result).toEqual({
      ok: true,
      reads: 4,
      data: {
        c_level: 'info',
        'c_dotted.key': 'top',
        c_db: JSON.stringify({ host: 'h', ports: [5432, 5433] }),
        'db-url': 'postgres://x',
        username: 'o',
        password: 'pw',
      },
    });
  });

  it('reads a secret named twice once', async () => {
    const client = fake();
    await fetchSecretData(client, {
      data: [
        { secretKey: 'a', remoteRef: { type: 'kv', name: 'config', property: 'level' } },
        { secretKey: 'b', remoteRef: { type: 'kv', name: 'config', property: 'db.host' } },
      ],
    });
    expect(client.calls.filter((c) => c.method === 'getSecret')).toHaveLength(1);
  });

  it('reports a missing secret, and whether every source is gone', async () => {
    const some = await fetchSecretData(fake(), {
      data: [
        { secretKey: 'a', remoteRef: { type: 'arbitrary', name: 'db-url' } },
        { secretKey: 'b', remoteRef: { type: 'arbitrary', name: 'gone' } },
      ],
    });
    expect(some).toMatchObject({ ok: false, failure: { kind: 'notFound', allGone: false } });
    const all = await fetchSecretData(fake(), {
      data: [{ secretKey: 'b', remoteRef: { type: 'arbitrary', name: 'gone' } }],
    });
    expect(all).toMatchObject({ ok: false, failure: { kind: 'notFound', allGone: true } });
  });

  it('fails the whole fetch on a missing field, naming the field and not any value', async () => {
    const result = await fetchSecretData(fake(), {
      data: [
        { secretKey: 'a', remoteRef: { type: 'arbitrary', name: 'db-url' } },
        { secretKey: 'b', remoteRef: { type: 'username_password', name: 'smtp', property: 'pin' } },
      ],
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.kind).toBe('content');
    expect(result.failure.message).toContain('"pin"');
    expect(result.failure.message).not.toContain('pw');
  });

  it('refuses an iam_credentials secret that mints keys from its metadata, minting nothing', async () => {
    const client = fake().putIamSecret({
      id: 'i1',
      name: 'writer',
      ttlSeconds: 3600,
      reuseApiKey: false,
    });
    const result = await fetchSecretData(client, {
      data: [
        {
          secretKey: 'a',
          remoteRef: { type: 'iam_credentials', name: 'writer', property: 'api_key' },
        },
        { secretKey: 'b', remoteRef: { type: 'iam_credentials', id: 'i1', property: 'api_key' } },
      ],
      dataFrom: [{ extract: { type: 'iam_credentials', name: 'writer', group: 'default' } }],
    });
    expect(result).toMatchObject({ ok: false, failure: { kind: 'mintsKeys' } });
    expect(client.minted).toHaveLength(0);
  });

  it('serves an iam_credentials secret that reuses its key', async () => {
    const client = fake().putIamSecret({
      id: 'i2',
      name: 'reader',
      ttlSeconds: 3600,
      reuseApiKey: true,
    });
    const result = await fetchSecretData(client, {
      dataFrom: [{ extract: { type: 'iam_credentials', id: 'i2' } }],
    });
    expect(result).toMatchObject({
      ok: true,
      data: { api_key: 'fake-api-key-1', service_id: 'ServiceId-fake-1' },
    });
  });

  it('never lists its way into minting keys: find without a type skips iam_credentials', async () => {
    const client = fake().putIamSecret({ id: 'i1', name: 'db-writer', ttlSeconds: 3600 });
    const result = await fetchSecretData(client, {
      dataFrom: [{ find: { name: { regexp: '^db' } } }],
    });
    expect(result).toEqual({ ok: true, reads: 1, data: { 'db-url': 'postgres://x' } });
    expect(client.minted).toHaveLength(0);
  });

  it('turns a version the API cannot serve into an invalid spec, and 5xx into a remote failure', async () => {
    const client = fake()
      .failNext('getSecret', new SecretsManagerError('InvalidRequest', 'only the current version'))
      .failNext(
        'getSecret',
        new SecretsManagerError('Unavailable', 'get_secret: HTTP 503', { status: 503 }),
      );
    const spec = {
      data: [{ secretKey: 'a', remoteRef: { type: 'arbitrary' as const, name: 'db-url' } }],
    };
    expect(await fetchSecretData(client, spec)).toMatchObject({
      ok: false,
      failure: { kind: 'invalid' },
    });
    expect(await fetchSecretData(client, spec)).toMatchObject({
      ok: false,
      failure: { kind: 'remote' },
    });
  });

  it('refuses keys that are not valid Secret keys', async () => {
    const client = fake().put({
      type: 'kv',
      metadata: meta('k2', 'bad', 'kv'),
      payload: { 'has space': 'x' },
    });
    const result = await fetchSecretData(client, {
      dataFrom: [{ extract: { type: 'kv', id: 'k2' } }],
    });
    expect(result).toMatchObject({ ok: false, failure: { kind: 'content' } });
  });
});

describe('values', () => {
  const kv: RemoteSecret = {
    type: 'kv',
    metadata: meta('k', 'k', 'kv'),
    payload: { 'a.b': 'top', a: { b: 'nested', list: ['x', { y: 1 }] }, n: 3 },
  };

  it('kv paths: a dotted top-level key first, then the path; non-strings as JSON', () => {
    expect(pickProperty(kv, 'a.b')).toBe('top');
    expect(pickProperty(kv, 'a.list.0')).toBe('x');
    expect(pickProperty(kv, 'a.list.1')).toBe('{"y":1}');
    expect(pickProperty(kv, 'n')).toBe('3');
    expect(pickProperty(kv, 'a.missing')).toBeUndefined();
  });

  it('a whole secret: payload for arbitrary, JSON for the rest', () => {
    expect(
      wholeValue({ type: 'arbitrary', metadata: meta('a', 'a', 'arbitrary'), payload: 'p' }),
    ).toBe('p');
    expect(JSON.parse(wholeValue(kv))).toEqual(kv.type === 'kv' ? kv.payload : {});
    expect(
      JSON.parse(
        wholeValue({
          type: 'username_password',
          metadata: meta('u', 'u', 'username_password'),
          username: 'u',
          password: 'p',
        }),
      ),
    ).toEqual({ username: 'u', password: 'p' });
  });
});
