import { describe, expect, it } from 'vitest';
import type { CurrentLease, IAMCredentialLeaseStatus, PendingRevocation } from '../../api/index.ts';
import { SecretsManagerError } from '../../secretsmanager/index.ts';
import {
  leaseConditions,
  MIN_REQUEUE_MS,
  requeueAfterMs,
  withRevokedCondition,
} from './conditions.ts';
import { rfc3339 } from './decide.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const HOUR = 3_600_000;

const current: CurrentLease = {
  serviceId: 'ServiceId-1',
  secretId: 'sec-1',
  store: 'ClusterSecretStore/default',
  issuedAt: rfc3339(T0 - HOUR / 2),
  expiresAt: rfc3339(T0 + HOUR / 2),
  renewAt: rfc3339(T0 + HOUR / 4),
  reused: false,
  sourceHash: 'sha256:src',
};

function pending(over: Partial<PendingRevocation> = {}): PendingRevocation {
  return {
    serviceId: 'ServiceId-0',
    secretId: 'sec-1',
    expiresAt: rfc3339(T0 + HOUR),
    revokeAfter: rfc3339(T0 + 120_000),
    attempts: 0,
    store: 'ClusterSecretStore/default',
    ...over,
  };
}

const input = { now: T0, generation: 3, gracePeriod: '2m', targetName: 'creds', retryAt: T0 };
const condition = (s: IAMCredentialLeaseStatus, type: string) =>
  s.conditions?.find((c) => c.type === type);
const unavailable = new SecretsManagerError('Unavailable', 'HTTP 503');

describe('leaseConditions', () => {
  it('a valid credential is Ready Leased, with observedGeneration on both conditions', () => {
    const { status, expired } = leaseConditions({ current, secretName: 'creds' }, input);
    expect(expired).toBeUndefined();
    expect(status.observedGeneration).toBe(3);
    expect(condition(status, 'Ready')).toMatchObject({
      status: 'True',
      reason: 'Leased',
      observedGeneration: 3,
      message: expect.stringContaining(`valid until ${current.expiresAt}`),
    });
    expect(condition(status, 'CredentialsRevoked')).toMatchObject({
      status: 'True',
      reason: 'AllRevoked',
    });
  });

  it('a failed read with a valid credential is Renewing, naming the next attempt', () => {
    const retryAt = T0 + 30_000;
    const { status } = leaseConditions({ current }, { ...input, failure: unavailable, retryAt });
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True', reason: 'Renewing' });
    expect(condition(status, 'Ready')?.message).toContain(`next attempt at ${rfc3339(retryAt)}`);
    expect(condition(status, 'Ready')?.message).toContain('Unavailable: HTTP 503');
  });

  it('a failed read after expiry is LeaseExpired and hands back the expired credential', () => {
    const later = { ...input, now: T0 + HOUR, failure: unavailable };
    const { status, expired } = leaseConditions({ current }, later);
    expect(condition(status, 'Ready')).toMatchObject({ status: 'False', reason: 'LeaseExpired' });
    expect(expired).toEqual(current);
  });

  it('a failed read without any credential is LeaseFailed, or RemoteSecretNotFound', () => {
    const failed = leaseConditions({}, { ...input, failure: unavailable }).status;
    expect(condition(failed, 'Ready')).toMatchObject({ status: 'False', reason: 'LeaseFailed' });
    const notFound = new SecretsManagerError('NotFound', 'HTTP 404', { status: 404 });
    const missing = leaseConditions({}, { ...input, failure: notFound }).status;
    expect(condition(missing, 'Ready')?.reason).toBe('RemoteSecretNotFound');
  });

  it('is the same status for the same failure and retry time (a wake-up writes nothing)', () => {
    const again = { ...input, failure: unavailable, retryAt: T0 + 30_000 };
    const first = leaseConditions({ current }, again).status;
    expect(leaseConditions(first, { ...again, now: T0 + 10_000 }).status).toEqual(first);
  });
});

describe('withRevokedCondition', () => {
  it('waits for the grace period, naming the earliest revocation', () => {
    const status = withRevokedCondition(
      {
        pendingRevocations: [
          pending({ revokeAfter: rfc3339(T0 + 300_000) }),
          pending({ serviceId: 'ServiceId-00', revokeAfter: rfc3339(T0 + 60_000) }),
        ],
      },
      2,
      T0,
      '2m',
    );
    expect(condition(status, 'CredentialsRevoked')).toMatchObject({
      status: 'False',
      reason: 'GracePeriod',
      observedGeneration: 2,
      message: expect.stringContaining(`next at ${rfc3339(T0 + 60_000)}`),
    });
  });

  it('reports failed attempts with the error', () => {
    const failing = pending({ attempts: 3, lastError: 'Unavailable: HTTP 503' });
    const status = withRevokedCondition({ pendingRevocations: [failing] }, 2, T0, '2m');
    expect(condition(status, 'CredentialsRevoked')).toMatchObject({
      status: 'False',
      reason: 'RevocationFailed',
      message: expect.stringContaining('ServiceId-0 (3 attempts'),
    });
  });
});

describe('requeueAfterMs', () => {
  it('is the earliest of renewal, expiry and the next revocation', () => {
    expect(requeueAfterMs({ current }, T0, undefined, undefined)).toBe(HOUR / 4);
    expect(requeueAfterMs({ current }, T0, undefined, T0 + 60_000)).toBe(60_000);
  });

  it('a pending retry replaces renewal and expiry', () => {
    expect(requeueAfterMs({ current }, T0, T0 + HOUR / 3, undefined)).toBe(HOUR / 3);
  });

  it('is never below the minimum, and an hour with nothing to wait for', () => {
    expect(requeueAfterMs({ current }, T0 + HOUR, undefined, undefined)).toBe(MIN_REQUEUE_MS);
    expect(requeueAfterMs({}, T0, undefined, undefined)).toBe(HOUR);
  });
});
