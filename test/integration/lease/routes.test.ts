// Revocation routes per credential, and reuse_api_key: a reused key is recognised and never
// revoked while it is current; a server with lease IDs gets sys/leases/revoke; a store set to
// secretVersionData revokes only the current version and leaves replaced keys to expire.
import { afterAll, describe, expect, it } from 'vitest';
import { createSecretsManagerClient } from '../../../src/secretsmanager/index.ts';
import { eventually } from '../support/cluster.ts';
import { LeaseEnv } from './harness.ts';

const envs: LeaseEnv[] = [];
async function env(options: Parameters<typeof LeaseEnv.create>[0]): Promise<LeaseEnv> {
  const created = await LeaseEnv.create(options);
  envs.push(created);
  return created;
}

afterAll(async () => {
  await Promise.all(envs.map((e) => e.close()));
});

const gone = (e: LeaseEnv, name: string) =>
  eventually(`${name} released`, async () =>
    (await e.getLease(name)) === undefined ? true : undefined,
  );

describe('reuse_api_key', () => {
  it('recognises the same key, never revokes it while current, and leases the next at expiry', async () => {
    const e = await env({ prefix: 'lease-reuse' });
    const secret = e.credentialSecret(8, { reuse: true });
    await e.createLease('a', { credential: { name: secret }, gracePeriod: '0s' });
    await e.createLease('b', { credential: { name: secret }, gracePeriod: '0s' });
    const a = await e.leased('a');
    const b = await e.leased('b');
    const key = await e.apiKey('a');
    expect(await e.apiKey('b')).toBe(key);
    expect(a.status?.current).toMatchObject({
      reused: true,
      renewAt: a.status?.current?.expiresAt,
    });
    expect(b.status?.current?.serviceId).toBe(a.status?.current?.serviceId);

    // Deleting one lease must not revoke the key the other one still uses.
    await e.deleteLease('a');
    await gone(e, 'a');
    expect(e.em.isApiKeyValid(key)).toBe(true);
    expect(
      (await e.events('a')).find((ev) => ev.reason === 'RevocationSkipped')?.message,
    ).toContain('reuse_api_key');

    // At expiry Secrets Manager hands out a new key; the old one was never revoked, it expired.
    const next = await e.waitLease(
      'b',
      'the next key',
      (l) =>
        l.status?.current !== undefined &&
        l.status.current.serviceId !== b.status?.current?.serviceId,
      30_000,
    );
    expect(next.status?.current?.reused).toBe(true);
    expect(await e.apiKey('b')).not.toBe(key);
    const old = e.em.credentials().find((c) => c.serviceId === b.status?.current?.serviceId);
    expect(old?.state).toBe('expired');
    expect(e.em.counters().credentialsRevoked.total).toBe(0);
    await e.deleteLease('b');
  });
});

describe('a reused key another reader minted first', () => {
  it('expires when that key does, not a TTL after the lease read it: the Secret never holds it expired', async () => {
    const e = await env({ prefix: 'lease-reuse-first' });
    const secret = e.credentialSecret(16, { reuse: true });
    // Someone else (another cluster, a script) reads the secret first and mints the key.
    const other = createSecretsManagerClient({
      url: e.sm.url,
      iamUrl: e.sm.url,
      apiKey: e.sm.apiKey,
    });
    const first = await other.getIamCredentials({ name: secret });
    const mintedAt = Date.now();
    await other.close();
    await new Promise((r) => setTimeout(r, 5_000));

    await e.createLease('late', { credential: { name: secret }, gracePeriod: '0s' });
    const leased = await e.leased('late');
    expect(await e.apiKey('late')).toBe(first.apiKey);
    // The key's own expiry (second precision), not the read + 16 s.
    const expiresAt = Date.parse(leased.status?.current?.expiresAt ?? '');
    expect(expiresAt).toBeLessThanOrEqual(mintedAt + 16_000);
    expect(expiresAt).toBeGreaterThan(mintedAt + 14_000);

    // Across the key's expiry the Secret moves to the next key; at most a moment (the re-read
    // at the end of a reused key's life) passes with the old key in it.
    let invalidMs = 0;
    const until = mintedAt + 16_000 + 4_000;
    while (Date.now() < until) {
      const key = (await e.secretData('late'))?.apikey;
      if (key !== undefined && !e.em.isApiKeyValid(key)) invalidMs += 250;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(invalidMs).toBeLessThanOrEqual(1_500);
    expect(await e.apiKey('late')).not.toBe(first.apiKey);
    await e.deleteLease('late');
  });
});

describe('revocation routes', () => {
  it('uses sys/leases/revoke when the server hands out lease IDs', async () => {
    const e = await env({ prefix: 'lease-vault', emulator: { leaseIds: true } });
    const secret = e.credentialSecret(300);
    await e.createLease('v', { credential: { name: secret } });
    const leased = await e.leased('v');
    expect(leased.status?.current?.leaseId).toMatch(/^ibmcloud\/iam_credentials\/creds\//);
    const key = await e.apiKey('v');
    await e.deleteLease('v');
    await gone(e, 'v');
    expect(e.em.isApiKeyValid(key)).toBe(false);
    expect(e.em.counters().credentialsRevoked.byRoute.leaseRevoke).toBe(1);
  });

  it('with secretVersionData: revokes the current version, and leaves a replaced key to expire', async () => {
    const e = await env({
      prefix: 'lease-version',
      secretsManagerSpec: { revocation: 'secretVersionData' },
    });
    const secret = e.credentialSecret(300);
    await e.createLease('sv', { credential: { name: secret }, gracePeriod: '0s' });
    const first = await e.leased('sv');
    const key1 = await e.apiKey('sv');
    await e.core().deleteNamespacedSecret({ name: 'sv', namespace: e.namespace });
    const replaced = await e.waitLease('sv', 'the replaced key finished', (l) =>
      (l.status?.revoked ?? []).some((r) => r.serviceId === first.status?.current?.serviceId),
    );
    expect(replaced.status?.revoked?.[0]).toMatchObject({
      route: 'secretVersionData',
      result: 'Skipped',
    });
    // Secrets Manager can delete only the current version's data: the old key lives to its TTL.
    expect(e.em.isApiKeyValid(key1)).toBe(true);

    const key2 = await e.apiKey('sv');
    await e.deleteLease('sv');
    await gone(e, 'sv');
    expect(e.em.isApiKeyValid(key2)).toBe(false);
    expect(e.em.counters().credentialsRevoked.byRoute.secretData).toBe(1);
  });
});

describe('namespace deletion', () => {
  it('revokes the keys of its leases although the store goes away at the same moment', async () => {
    const e = await env({ prefix: 'lease-nsdel' });
    const secret = e.credentialSecret(300);
    await e.createLease('n', { credential: { name: secret } });
    await e.leased('n');
    const key = await e.apiKey('n');
    await e.core().deleteNamespace({ name: e.namespace });
    await eventually(
      'the namespace gone',
      async () => {
        try {
          await e.core().readNamespace({ name: e.namespace });
          return undefined;
        } catch {
          return true;
        }
      },
      90_000,
    );
    expect(e.em.isApiKeyValid(key)).toBe(false);
  });
});
