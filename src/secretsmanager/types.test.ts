import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { SecretsManagerError } from './errors.ts';
import { FakeSecretsManagerClient } from './testing/fake-client.ts';
import { envelope, ttlToSeconds } from './types.ts';

describe('ttlToSeconds', () => {
  it('reads seconds and duration strings', () => {
    expect(ttlToSeconds(1800)).toBe(1800);
    expect(ttlToSeconds('1800')).toBe(1800);
    expect(ttlToSeconds('30m')).toBe(1800);
    expect(ttlToSeconds('1h30m')).toBe(5400);
    expect(ttlToSeconds('90d')).toBe(7_776_000);
  });
  it('refuses what it cannot read', () => {
    expect(ttlToSeconds('forever')).toBeUndefined();
    expect(ttlToSeconds('10x')).toBeUndefined();
    expect(ttlToSeconds('')).toBeUndefined();
  });
});

describe('FakeSecretsManagerClient', () => {
  it('serves secrets, mints or reuses credentials and records revocations', async () => {
    let now = 1_000_000;
    const fake = new FakeSecretsManagerClient(() => now);
    fake.put({
      type: 'arbitrary',
      metadata: { id: 'a1', name: 'db', type: 'arbitrary', groupId: 'default', labels: ['x'] },
      payload: 'v',
    });
    fake.putIamSecret({ id: 'i1', name: 'mint', ttlSeconds: 60 });
    fake.putIamSecret({ id: 'i2', name: 'reuse', ttlSeconds: 60, reuseApiKey: true });
    expect(await fake.getSecret({ type: 'arbitrary', name: 'db' })).toMatchObject({ payload: 'v' });
    await expect(
      fake.getSecret({ type: 'arbitrary', name: 'db', group: 'g' }),
    ).rejects.toMatchObject({
      code: 'NotFound',
    });
    const a = await fake.getIamCredentials({ name: 'mint' });
    const b = await fake.getIamCredentials({ name: 'mint' });
    expect(a.apiKey).not.toBe(b.apiKey);
    const r1 = await fake.getIamCredentials({ id: 'i2' });
    now += 30_000;
    const r2 = await fake.getIamCredentials({ id: 'i2' });
    expect(r2.apiKey).toBe(r1.apiKey);
    expect(r2.ttlSeconds).toBe(60);
    expect(r2.createdAt).toBe(r1.createdAt);
    now += 31_000;
    expect((await fake.getIamCredentials({ id: 'i2' })).apiKey).not.toBe(r1.apiKey);
    await fake.deleteServiceId(a.serviceId);
    expect(fake.deletedServiceIds).toEqual([a.serviceId]);
    expect((await fake.listSecrets({ type: 'iam_credentials' })).map((m) => m.name)).toEqual([
      'mint',
      'reuse',
    ]);
    fake.failNext('validate', new SecretsManagerError('Unauthenticated', 'bad key'));
    await expect(fake.validate()).rejects.toMatchObject({ code: 'Unauthenticated' });
    await fake.validate();
  });
});

describe('envelope', () => {
  it('reads the data of a Vault response and keeps fields it does not know', () => {
    const data = z.object({ a: z.string() });
    expect(envelope(data).parse({ data: { a: 'x' }, request_id: 'r', warnings: null })).toEqual({
      data: { a: 'x' },
      request_id: 'r',
      warnings: null,
    });
    expect(envelope(data).safeParse({ data: { a: 1 } }).success).toBe(false);
  });
});
