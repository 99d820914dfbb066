import { describe, expect, it } from 'vitest';
import type { IAMCredentialLeaseStatus, PendingRevocation } from '../../api/index.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { SecretsManagerError } from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { rfc3339 } from './decide.ts';
import {
  chooseRoute,
  executeRevocation,
  type RevokePendingOptions,
  revocationBackoffMs,
  revokePending,
} from './revocation.ts';

const T0 = Date.UTC(2026, 0, 1, 12);

function pending(over: Partial<PendingRevocation> = {}): PendingRevocation {
  return {
    serviceId: 'ServiceId-old',
    secretId: 'sec-1',
    issuedAt: rfc3339(T0 - 60_000),
    expiresAt: rfc3339(T0 + 3_600_000),
    revokeAfter: rfc3339(T0 + 120_000),
    reason: 'Replaced',
    attempts: 0,
    store: 'SecretStore/sm',
    ...over,
  };
}

const free = { serviceIdInUse: false, newestOfSecret: false };

describe('chooseRoute', () => {
  it('auto: the lease revoke when the server gave a lease ID', () => {
    expect(chooseRoute(pending({ leaseId: 'l/1' }), { method: 'auto', ...free })).toEqual({
      kind: 'call',
      route: 'vaultLease',
      leaseId: 'l/1',
    });
  });

  it('auto: deletes the generated service ID when Secrets Manager gave no lease ID', () => {
    expect(chooseRoute(pending(), { method: 'auto', ...free })).toEqual({
      kind: 'call',
      route: 'serviceId',
      serviceId: 'ServiceId-old',
    });
  });

  it('never deletes a service ID that is shared or still behind a credential in use', () => {
    for (const [cred, ctx] of [
      [pending({ serviceIdShared: true }), free],
      [pending(), { ...free, serviceIdInUse: true }],
    ] as const) {
      for (const method of ['auto', 'serviceId'] as const) {
        const decision = chooseRoute(cred, { method, ...ctx });
        expect(decision.kind === 'call' && decision.route === 'serviceId').toBe(false);
      }
    }
  });

  it('auto falls back to the version data of the newest credential, else skips', () => {
    const cred = pending({ serviceIdShared: true });
    expect(
      chooseRoute(cred, { method: 'auto', serviceIdInUse: false, newestOfSecret: true }),
    ).toEqual({
      kind: 'call',
      route: 'secretVersionData',
      secretId: 'sec-1',
      versionId: 'current',
    });
    expect(chooseRoute(cred, { method: 'auto', ...free })).toMatchObject({ kind: 'skip' });
  });

  it('secretVersionData: only the credential own version or, while newest, current', () => {
    expect(
      chooseRoute(pending({ secretVersionId: 'v7' }), { method: 'secretVersionData', ...free }),
    ).toMatchObject({ kind: 'call', versionId: 'v7' });
    // A replaced credential is never the current version: `current` would hit its successor.
    expect(chooseRoute(pending(), { method: 'secretVersionData', ...free })).toMatchObject({
      kind: 'skip',
      route: 'secretVersionData',
    });
  });

  it('none and vaultLease without a lease ID leave the credential to expire', () => {
    expect(chooseRoute(pending(), { method: 'none', ...free })).toMatchObject({
      kind: 'skip',
      route: 'none',
    });
    const skip = chooseRoute(pending(), { method: 'vaultLease', ...free });
    expect(skip).toMatchObject({ kind: 'skip', route: 'vaultLease' });
    expect(skip.kind === 'skip' && skip.message).toContain('expires at');
  });
});

describe('executeRevocation', () => {
  it('calls the route on the client', async () => {
    const sm = new FakeSecretsManagerClient();
    await executeRevocation(sm, { route: 'serviceId', serviceId: 'S1' });
    await executeRevocation(sm, { route: 'vaultLease', leaseId: 'L1' });
    await executeRevocation(sm, { route: 'secretVersionData', secretId: 'x', versionId: 'v' });
    expect(sm.deletedServiceIds).toEqual(['S1']);
    expect(sm.revokedLeases).toEqual(['L1']);
    expect(sm.deletedVersions).toEqual([{ secretId: 'x', versionId: 'v' }]);
  });

  it('a credential the server no longer has is done', async () => {
    const sm = new FakeSecretsManagerClient().failNext(
      'deleteServiceId',
      new SecretsManagerError('NotFound', 'delete_service_id: HTTP 404'),
    );
    expect(await executeRevocation(sm, { route: 'serviceId', serviceId: 'S1' })).toEqual({
      ok: true,
      result: 'AlreadyGone',
    });
  });

  it('a refused non-current version is skipped, not retried', async () => {
    const sm = new FakeSecretsManagerClient().failNext(
      'deleteSecretVersionData',
      new SecretsManagerError('InvalidRequest', 'HTTP 400'),
    );
    const out = await executeRevocation(sm, {
      route: 'secretVersionData',
      secretId: 's',
      versionId: 'v',
    });
    expect(out).toMatchObject({ ok: true, result: 'Skipped' });
  });

  it('a 403 says which permission the route needs', async () => {
    const sm = new FakeSecretsManagerClient().failNext(
      'deleteServiceId',
      new SecretsManagerError('Forbidden', 'delete_service_id: HTTP 403'),
    );
    const out = await executeRevocation(sm, { route: 'serviceId', serviceId: 'S1' });
    expect(out.ok).toBe(false);
    expect(!out.ok && out.message).toContain('Operator role on the IAM Identity Service');
  });
});

describe('revokePending', () => {
  function env(status: IAMCredentialLeaseStatus, over: Partial<RevokePendingOptions> = {}) {
    const clock = new FakeClock(T0);
    const sm = new FakeSecretsManagerClient(() => clock.now());
    const options: RevokePendingOptions = {
      now: () => clock.now(),
      deleting: false,
      storeFor: () => ({ ok: true, client: sm, method: 'auto' }),
      contextFor: () => free,
      ...over,
    };
    return { clock, sm, run: (s = status) => revokePending(s, options) };
  }

  it('waits out the grace period, then revokes and records the route', async () => {
    const { clock, sm, run } = env({});
    const status: IAMCredentialLeaseStatus = { pendingRevocations: [pending()] };
    const early = await run(status);
    expect(sm.deletedServiceIds).toEqual([]);
    expect(early.nextAt).toBe(T0 + 120_000);
    await clock.advance(120_000);
    const done = await run(status);
    expect(sm.deletedServiceIds).toEqual(['ServiceId-old']);
    expect(done.status.pendingRevocations).toEqual([]);
    expect(done.status.revoked?.[0]).toMatchObject({
      serviceId: 'ServiceId-old',
      route: 'serviceId',
      result: 'Revoked',
    });
  });

  it('retries a failure with backoff and keeps the error in status', async () => {
    const { clock, sm, run } = env({});
    sm.failNext('deleteServiceId', new SecretsManagerError('Unavailable', 'HTTP 503'));
    await clock.advance(120_000);
    const failed = await run({ pendingRevocations: [pending()] });
    const entry = failed.status.pendingRevocations?.[0];
    expect(entry).toMatchObject({ attempts: 1, route: 'serviceId', lastError: 'HTTP 503' });
    expect(failed.nextAt).toBe(clock.now() + revocationBackoffMs(1));
    // Not again before the backoff ends.
    const waiting = await run(failed.status);
    expect(waiting.results).toEqual([]);
    await clock.advance(revocationBackoffMs(1));
    const done = await run(failed.status);
    expect(done.status.revoked?.[0]?.result).toBe('Revoked');
  });

  it('a credential that expires before it could be revoked is finished as Expired', async () => {
    const { clock, sm, run } = env({});
    await clock.advance(3_600_000);
    const done = await run({ pendingRevocations: [pending({ lastError: 'HTTP 503' })] });
    expect(sm.calls).toEqual([]);
    expect(done.status.revoked?.[0]).toMatchObject({ result: 'Expired', message: 'HTTP 503' });
  });

  it('while deleting: no grace period, and past the deadline what is left is abandoned', async () => {
    const deadline = T0 + 30_000;
    const { clock, sm, run } = env({}, { deleting: true, deadline });
    sm.failNext('deleteServiceId', new SecretsManagerError('Unavailable', 'HTTP 503'));
    const first = await run({ pendingRevocations: [pending({ reason: 'Deleting' })] });
    expect(sm.calls.map((c) => c.method)).toEqual(['deleteServiceId']);
    expect(first.status.pendingRevocations?.[0]?.attempts).toBe(1);
    expect(first.nextAt).toBeLessThanOrEqual(deadline);
    await clock.advance(30_000);
    const gone = await run(first.status);
    expect(gone.status.pendingRevocations).toEqual([]);
    expect(gone.status.revoked?.[0]).toMatchObject({ result: 'Abandoned', route: 'serviceId' });
    expect(gone.status.revoked?.[0]?.message).toContain(pending().expiresAt);
  });

  it('a store that cannot be used counts as a failed attempt', async () => {
    const { clock, run } = env(
      {},
      { storeFor: () => ({ ok: false, code: 'StoreNotReady', message: 'store gone' }) },
    );
    await clock.advance(120_000);
    const out = await run({ pendingRevocations: [pending()] });
    expect(out.status.pendingRevocations?.[0]).toMatchObject({
      attempts: 1,
      lastError: 'store gone',
    });
  });
});
