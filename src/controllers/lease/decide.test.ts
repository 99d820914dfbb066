import { describe, expect, it } from 'vitest';
import type { IAMCredentialLeaseStatus } from '../../api/index.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import {
  leaseTrigger,
  ms,
  type RecordInput,
  recordCredential,
  renewalRetryMs,
  retire,
  rfc3339,
} from './decide.ts';

const SOURCE = 'sha256:source';
const spec = { gracePeriod: '2m' } as const;

function setup(opts: { ttlSeconds?: number; reuseApiKey?: boolean } = {}) {
  const clock = new FakeClock(Date.UTC(2026, 0, 1, 12));
  const sm = new FakeSecretsManagerClient(() => clock.now());
  sm.putIamSecret({
    id: 'sec-1',
    name: 'cos-writer',
    ttlSeconds: opts.ttlSeconds ?? 3600,
    ...(opts.reuseApiKey !== undefined ? { reuseApiKey: opts.reuseApiKey } : {}),
  });
  const input = (over: Partial<RecordInput> = {}): RecordInput => ({
    requestedAt: clock.now(),
    now: clock.now(),
    spec,
    trigger: 'Initial',
    sourceHash: SOURCE,
    store: 'SecretStore/sm',
    apiKeyHash: 'hash-1',
    hasRestartTargets: true,
    random: () => 0,
    ...over,
  });
  return { clock, sm, input };
}

/** A status with one credential leased at the clock's current time. */
async function leased(s: ReturnType<typeof setup>): Promise<IAMCredentialLeaseStatus> {
  const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
  return recordCredential({}, creds, s.input({ apiKeyHash: `hash-${creds.serviceId}` })).status;
}

describe('leaseTrigger', () => {
  it('leases when there is no credential, and not again until the renewal time', async () => {
    const s = setup();
    expect(
      leaseTrigger({
        now: s.clock.now(),
        status: {},
        sourceHash: SOURCE,
        secretHoldsCurrent: false,
      }),
    ).toBe('Initial');
    const status = await leased(s);
    const check = () =>
      leaseTrigger({ now: s.clock.now(), status, sourceHash: SOURCE, secretHoldsCurrent: true });
    expect(check()).toBeUndefined();
    await s.clock.advance(ms(status.current!.renewAt) - s.clock.now() - 1);
    expect(check()).toBeUndefined();
    await s.clock.advance(1);
    expect(check()).toBe('RenewDue');
    await s.clock.advance(ms(status.current!.expiresAt) - s.clock.now());
    expect(check()).toBe('Expired');
  });

  it('re-leases when the source changes or the Secret no longer holds the credential', async () => {
    const s = setup();
    const status = await leased(s);
    const now = s.clock.now();
    expect(
      leaseTrigger({ now, status, sourceHash: 'sha256:other', secretHoldsCurrent: true }),
    ).toBe('SourceChanged');
    expect(leaseTrigger({ now, status, sourceHash: SOURCE, secretHoldsCurrent: false })).toBe(
      'TargetSecretLost',
    );
  });
});

describe('recordCredential', () => {
  it('renews at two thirds of the TTL by default, and jitter only moves it earlier', async () => {
    const s = setup({ ttlSeconds: 120 });
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const late = recordCredential({}, creds, s.input({ random: () => 0 })).status.current!;
    const early = recordCredential({}, creds, s.input({ random: () => 0.999 })).status.current!;
    expect(ms(late.renewAt) - s.clock.now()).toBe(80_000);
    expect(ms(early.renewAt)).toBeLessThan(ms(late.renewAt));
    expect(ms(early.renewAt) - s.clock.now()).toBeGreaterThanOrEqual(72_000);
  });

  it('a new credential replaces the old one, which waits out the grace period', async () => {
    const s = setup();
    const first = await leased(s);
    await s.clock.advance(40 * 60_000);
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const next = recordCredential(first, creds, s.input({ trigger: 'RenewDue', apiKeyHash: 'h2' }));
    expect(next.sameKey).toBe(false);
    expect(next.status.current!.serviceId).toBe(creds.serviceId);
    expect(next.status.current!.restartPending).toBe(true);
    expect(next.status.pendingRevocations).toEqual([
      expect.objectContaining({
        serviceId: first.current!.serviceId,
        reason: 'Replaced',
        revokeAfter: rfc3339(s.clock.now() + 120_000),
        expiresAt: first.current!.expiresAt,
        store: 'SecretStore/sm',
        attempts: 0,
      }),
    ]);
  });

  it('never keeps a replaced credential pending past its own expiry', async () => {
    const s = setup({ ttlSeconds: 100 });
    const first = await leased(s);
    await s.clock.advance(90_000);
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const next = recordCredential(first, creds, s.input({ trigger: 'RenewDue', apiKeyHash: 'h2' }));
    expect(next.status.pendingRevocations?.[0]?.revokeAfter).toBe(first.current!.expiresAt);
  });

  it('the first credential restarts nothing', async () => {
    const s = setup();
    expect((await leased(s)).current!.restartPending).toBeUndefined();
  });

  it('recognises a reused key: same lease, nothing to revoke, renewed at expiry', async () => {
    const s = setup({ ttlSeconds: 600, reuseApiKey: true });
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const first = recordCredential({}, creds, s.input({ apiKeyHash: 'same' })).status;
    // A reused key is handed to every reader until it expires: no new one exists before that.
    expect(first.current!.reused).toBe(true);
    expect(first.current!.renewAt).toBe(first.current!.expiresAt);
    await s.clock.advance(400_000);
    const again = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const next = recordCredential(
      first,
      again,
      s.input({ trigger: 'RenewDue', apiKeyHash: 'same' }),
    );
    expect(next.sameKey).toBe(true);
    expect(next.status.pendingRevocations ?? []).toEqual([]);
    expect(next.status.current!.issuedAt).toBe(first.current!.issuedAt);
    expect(next.status.current!.restartPending).toBeUndefined();
  });

  it('recognises the same key even when the server does not say it reuses keys', async () => {
    const s = setup();
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const first = recordCredential({}, creds, s.input({ apiKeyHash: 'k' })).status;
    expect(first.current!.reused).toBe(false);
    const next = recordCredential(first, creds, s.input({ trigger: 'RenewDue', apiKeyHash: 'k' }));
    expect(next.sameKey).toBe(true);
    expect(next.status.current!.reused).toBe(true);
    expect(next.status.pendingRevocations ?? []).toEqual([]);
  });

  it('a reused key that is replaced is left to expire, never revoked', async () => {
    const s = setup({ reuseApiKey: true });
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const first = recordCredential({}, creds, s.input({ apiKeyHash: 'k1' })).status;
    const other = { ...creds, apiKey: 'x', serviceId: 'ServiceId-other', reuseApiKey: true };
    const next = recordCredential(
      first,
      other,
      s.input({ trigger: 'SourceChanged', apiKeyHash: 'k2' }),
    );
    expect(next.status.pendingRevocations ?? []).toEqual([]);
    expect(next.status.revoked?.[0]).toMatchObject({
      serviceId: creds.serviceId,
      route: 'none',
      result: 'Skipped',
    });
  });

  it('marks a service ID seen behind two different keys as shared', async () => {
    const s = setup();
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const first = recordCredential({}, creds, s.input({ apiKeyHash: 'k1' })).status;
    // A secret defined with an existing service ID: a new key, the same service ID.
    const next = recordCredential(
      first,
      { ...creds, apiKey: 'another' },
      s.input({ trigger: 'RenewDue', apiKeyHash: 'k2' }),
    );
    expect(next.sameKey).toBe(false);
    expect(next.status.current!.serviceIdShared).toBe(true);
    expect(next.status.pendingRevocations?.[0]?.serviceIdShared).toBe(true);
  });

  it('clears the minting marker once the credential is recorded', async () => {
    const s = setup();
    const creds = await s.sm.getIamCredentials({ name: 'cos-writer' });
    const marker = { startedAt: rfc3339(s.clock.now()), store: 'SecretStore/sm', secretId: 'x' };
    expect(recordCredential({ minting: marker }, creds, s.input()).status.minting).toBeUndefined();
  });
});

describe('retire', () => {
  it('finishes an already expired credential without a revocation', async () => {
    const s = setup({ ttlSeconds: 60 });
    const status = await leased(s);
    await s.clock.advance(61_000);
    const next = retire({}, status.current!, {
      now: s.clock.now(),
      graceMs: 0,
      reason: 'Deleting',
    });
    expect(next.pendingRevocations).toBeUndefined();
    expect(next.revoked?.[0]).toMatchObject({ result: 'Expired', route: 'none' });
  });
});

describe('renewalRetryMs', () => {
  it('backs off, but retries at least twice in the time the credential has left', () => {
    const now = 0;
    expect(renewalRetryMs(1, now, 600_000)).toBe(1_000);
    expect(renewalRetryMs(4, now, 600_000)).toBe(8_000);
    expect(renewalRetryMs(20, now, 600_000)).toBe(60_000);
    expect(renewalRetryMs(20, now, 20_000)).toBe(10_000);
    // Expired: as soon as possible, never more than 5 s apart.
    expect(renewalRetryMs(20, 30_000, 20_000)).toBe(5_000);
  });
});
