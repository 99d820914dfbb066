// The life of a lease on the real API server with the emulator's IAM as the judge: a leased key
// exchanges for an IAM token; a replaced key stops working after the grace period; a lost Secret
// gets a new key and the lost one is revoked; spec changes that keep the source rewrite the
// Secret without a new key; deleting the resource revokes every key it held.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import { core, LeaseEnv, ready, readyReason } from './harness.ts';

let env: LeaseEnv;

beforeAll(async () => {
  env = await LeaseEnv.create({ prefix: 'lease-life' });
});

afterAll(async () => {
  await env?.close();
});

describe('IAMCredentialLease lifecycle', () => {
  it('leases a key that IAM accepts, renews it before expiry and revokes the old one after the grace period', async () => {
    const secret = env.credentialSecret(12);
    await env.deployment('uploader', 'uploader-creds');
    await env.createLease('uploader', {
      credential: { name: secret },
      target: { name: 'uploader-creds' },
      gracePeriod: '2s',
      rolloutRestartTargets: [{ kind: 'Deployment', name: 'uploader' }],
    });
    const first = await env.leased('uploader');
    const key1 = await env.apiKey('uploader-creds');
    expect(env.em.isApiKeyValid(key1)).toBe(true);
    expect(await env.metric('secrets_manager_operator_lease_active')).toBeGreaterThanOrEqual(1);
    expect(
      await env.metric('secrets_manager_operator_lease_nearest_expiry_seconds'),
    ).toBeGreaterThan(0);
    expect((await env.secretData('uploader-creds'))?.service_id).toBe(
      first.status?.current?.serviceId,
    );
    expect(first.metadata.finalizers).toContain('secrets-manager.dev/lease');
    // The first write restarts nothing.
    expect(await env.restartedAt('uploader')).toBeUndefined();

    // Renewal at two thirds of 12 s (minus jitter): a new key, while the old one is still valid.
    const renewed = await env.waitLease(
      'uploader',
      'a renewed credential',
      (l) =>
        l.status?.current !== undefined &&
        l.status.current.serviceId !== first.status?.current?.serviceId,
      30_000,
    );
    const key2 = await env.apiKey('uploader-creds');
    expect(key2).not.toBe(key1);
    expect(env.em.isApiKeyValid(key2)).toBe(true);
    expect(Date.parse(first.status!.current!.expiresAt)).toBeGreaterThan(
      Date.parse(renewed.status!.current!.issuedAt),
    );
    expect(await eventually('a rollout restart', () => env.restartedAt('uploader'))).toBe(
      renewed.status?.current?.issuedAt,
    );

    // After the 2 s grace period the old key no longer exchanges for a token.
    const done = await env.waitLease('uploader', 'the old key revoked', (l) =>
      (l.status?.revoked ?? []).some((r) => r.serviceId === first.status?.current?.serviceId),
    );
    expect(env.em.isApiKeyValid(key1)).toBe(false);
    expect(
      done.status?.revoked?.find((r) => r.serviceId === first.status?.current?.serviceId),
    ).toMatchObject({
      route: 'serviceId',
      result: 'Revoked',
    });
    const credential = env.em
      .credentials()
      .find((c) => c.serviceId === first.status?.current?.serviceId);
    expect(credential).toMatchObject({ state: 'revoked', revokedBy: 'serviceId' });
    await env.deleteLease('uploader');
  });

  it('a Secret deleted by hand gets a new key, and the lost key is revoked', async () => {
    const secret = env.credentialSecret(300);
    await env.createLease('lost', { credential: { name: secret }, gracePeriod: '0s' });
    const first = await env.leased('lost');
    const key1 = await env.apiKey('lost');
    await core.deleteNamespacedSecret({ name: 'lost', namespace: env.namespace });

    const next = await env.waitLease(
      'lost',
      'a new credential',
      (l) =>
        l.status?.current?.serviceId !== first.status?.current?.serviceId && ready(l) === 'True',
    );
    const key2 = await env.apiKey('lost');
    expect(key2).not.toBe(key1);
    expect(env.em.isApiKeyValid(key2)).toBe(true);
    await env.waitLease('lost', 'the lost key revoked', (l) =>
      (l.status?.revoked ?? []).some(
        (r) => r.serviceId === first.status?.current?.serviceId && r.result === 'Revoked',
      ),
    );
    expect(env.em.isApiKeyValid(key1)).toBe(false);
    expect(next.status?.current?.restartPending).toBeUndefined();
    const reasons = (await env.events('lost')).map((e) => e.reason);
    expect(reasons).toContain('TargetSecretLost');
    await env.deleteLease('lost');
  });

  it('a spec change that keeps the source rewrites the Secret without a new key', async () => {
    const secret = env.credentialSecret(300);
    await env.createLease('rename', { credential: { name: secret }, target: { name: 'rename-a' } });
    const first = await env.leased('rename');
    const key = await env.apiKey('rename-a');
    const minted = env.em.counters().credentialsMinted;

    await env.patchLease('rename', {
      target: {
        name: 'rename-b',
        keys: { apiKey: 'API_KEY', serviceId: 'SERVICE_ID' },
        labels: { app: 'x' },
      },
      renewFraction: 0.5,
    });
    const data = await eventually('Secret rename-b', () => env.secretData('rename-b'));
    expect(data).toEqual({ API_KEY: key, SERVICE_ID: first.status?.current?.serviceId });
    const after = await env.waitLease(
      'rename',
      'the new generation observed',
      (l) => l.status?.observedGeneration === l.metadata.generation,
    );
    expect(after.status?.current?.serviceId).toBe(first.status?.current?.serviceId);
    // The new renewFraction moves the renewal of the same credential (0.5 of 300 s, minus jitter).
    const issued = Date.parse(after.status!.current!.issuedAt);
    const renewIn = Date.parse(after.status!.current!.renewAt) - issued;
    expect(renewIn).toBeGreaterThan(134_000);
    expect(renewIn).toBeLessThanOrEqual(150_000);
    expect(after.status?.secretName).toBe('rename-b');
    expect(env.em.counters().credentialsMinted).toBe(minted);
    expect(env.em.isApiKeyValid(key)).toBe(true);
    await eventually('the old Secret deleted', async () =>
      (await env.secretData('rename-a')) === undefined ? true : undefined,
    );
    await env.deleteLease('rename');
  });

  it('a change of source leases from the new secret and revokes the old key after the grace period', async () => {
    const a = env.credentialSecret(300);
    const b = env.credentialSecret(300);
    await env.createLease('switch', { credential: { name: a }, gracePeriod: '1s' });
    const first = await env.leased('switch');
    const key1 = await env.apiKey('switch');
    await env.patchLease('switch', { credential: { name: b } });
    await env.waitLease(
      'switch',
      'a credential of the new secret',
      (l) =>
        l.status?.current !== undefined &&
        l.status.current.secretId !== first.status?.current?.secretId,
    );
    await env.waitLease('switch', 'the old key revoked', (l) =>
      (l.status?.revoked ?? []).some((r) => r.serviceId === first.status?.current?.serviceId),
    );
    expect(env.em.isApiKeyValid(key1)).toBe(false);
    expect(env.em.isApiKeyValid(await env.apiKey('switch'))).toBe(true);
    await env.deleteLease('switch');
  });

  it('never takes over a Secret it does not own, and mints nothing for it', async () => {
    const secret = env.credentialSecret(300);
    await core.createNamespacedSecret({
      namespace: env.namespace,
      body: { metadata: { name: 'theirs' }, stringData: { apikey: 'not-ours' } },
    });
    await env.createLease('grab', { credential: { name: secret }, target: { name: 'theirs' } });
    const refused = await env.waitLease(
      'grab',
      'TargetConflict',
      (l) => readyReason(l) === 'TargetConflict',
    );
    expect(refused.status?.current).toBeUndefined();
    expect(env.em.credentials().filter((c) => c.secretName === secret)).toHaveLength(0);
    expect(await env.secretData('theirs')).toEqual({ apikey: 'not-ours' });
    await env.deleteLease('grab');
  });

  it('with revokeOnDelete false, deleting the resource leaves its key to expire', async () => {
    const secret = env.credentialSecret(300);
    await env.createLease('keep', { credential: { name: secret }, revokeOnDelete: false });
    await env.leased('keep');
    const key = await env.apiKey('keep');
    await env.deleteLease('keep');
    await eventually('the lease gone', async () =>
      (await env.getLease('keep')) === undefined ? true : undefined,
    );
    expect(env.em.isApiKeyValid(key)).toBe(true);
    expect((await env.events('keep')).map((e) => e.reason)).toContain('CredentialsLeftToExpire');
  });

  it('deleting the resource revokes every key it held, then releases it', async () => {
    const secret = env.credentialSecret(300);
    // A long grace period keeps the replaced key pending when the resource is deleted.
    await env.createLease('gone', { credential: { name: secret }, gracePeriod: '1h' });
    const first = await env.leased('gone');
    const key1 = await env.apiKey('gone');
    await core.deleteNamespacedSecret({ name: 'gone', namespace: env.namespace });
    await env.waitLease(
      'gone',
      'a replacement',
      (l) =>
        (l.status?.pendingRevocations ?? []).length === 1 &&
        l.status?.current?.serviceId !== first.status?.current?.serviceId,
    );
    const key2 = await env.apiKey('gone');
    expect(env.em.isApiKeyValid(key1)).toBe(true);

    await env.deleteLease('gone');
    await eventually('the lease gone', async () =>
      (await env.getLease('gone')) === undefined ? true : undefined,
    );
    expect(env.em.isApiKeyValid(key1)).toBe(false);
    expect(env.em.isApiKeyValid(key2)).toBe(false);
    const reasons = (await env.events('gone')).filter((e) => e.reason === 'Revoked');
    expect(reasons.length).toBeGreaterThanOrEqual(2);
  });
});
