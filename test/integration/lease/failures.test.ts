// Secrets Manager failing: renewals keep the old credential and retry while it is valid; an
// expiry anyway is reported and re-leased as soon as the service is back; deleting a lease
// while revocation fails waits a bounded time, then lets go with a Warning naming the key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import { LeaseEnv, ready, readyReason } from './harness.ts';

const REVOCATION_TIMEOUT_MS = 6_000;
let env: LeaseEnv;

beforeAll(async () => {
  env = await LeaseEnv.create({
    prefix: 'lease-fail',
    lease: { revocationTimeoutMs: REVOCATION_TIMEOUT_MS },
  });
});

afterAll(async () => {
  await env?.close();
});

const failCreds = () => env.em.setFaults({ errorRate: 1, errorStatus: 503, routes: ['*/creds/*'] });
const failServiceIdDeletion = () =>
  env.em.setFaults({ errorRate: 1, errorStatus: 503, routes: ['DELETE /v1/serviceids/*'] });
const heal = () => env.em.setFaults({ errorRate: 0, routes: null });

describe('Secrets Manager failing', () => {
  it('during the renewal window: keeps the valid key, reports the expiry, re-leases once back', async () => {
    const secret = env.credentialSecret(10);
    await env.createLease('flaky', { credential: { name: secret }, gracePeriod: '0s' });
    const first = await env.leased('flaky');
    const key1 = await env.apiKey('flaky');
    failCreds();
    try {
      const renewing = await env.waitLease(
        'flaky',
        'Renewing',
        (l) => readyReason(l) === 'Renewing',
        20_000,
      );
      expect(ready(renewing)).toBe('True');
      expect(renewing.status?.current?.serviceId).toBe(first.status?.current?.serviceId);
      expect(await env.apiKey('flaky')).toBe(key1);
      expect(env.em.isApiKeyValid(key1)).toBe(true);

      const expired = await env.waitLease(
        'flaky',
        'LeaseExpired',
        (l) => readyReason(l) === 'LeaseExpired',
        20_000,
      );
      expect(ready(expired)).toBe('False');
      // The Secret is never blanked: it keeps the last credential.
      expect(await env.apiKey('flaky')).toBe(key1);
      expect(await env.metric('secrets_manager_operator_lease_expired_total')).toBe(1);
      const events = await env.events('flaky');
      expect(events.find((e) => e.reason === 'LeaseExpired')?.type).toBe('Warning');
    } finally {
      heal();
    }
    const back = await env.waitLease(
      'flaky',
      'Leased again',
      (l) =>
        readyReason(l) === 'Leased' &&
        l.status?.current?.serviceId !== first.status?.current?.serviceId,
      20_000,
    );
    expect(ready(back)).toBe('True');
    expect(env.em.isApiKeyValid(await env.apiKey('flaky'))).toBe(true);
    await env.deleteLease('flaky');
  });

  it('while deleting: retries within the bound, then releases the resource with a Warning', async () => {
    const secret = env.credentialSecret(300);
    await env.createLease('stuck', { credential: { name: secret } });
    const leased = await env.leased('stuck');
    const key = await env.apiKey('stuck');
    const serviceId = leased.status?.current?.serviceId ?? '';
    failServiceIdDeletion();
    try {
      await env.deleteLease('stuck');
      const waiting = await env.waitLease('stuck', 'a failed attempt', (l) =>
        (l.status?.pendingRevocations ?? []).some((p) => p.attempts > 0),
      );
      expect(waiting.metadata.deletionTimestamp).toBeDefined();
      expect(readyReason(waiting)).toBe('Deleting');
      await eventually(
        'the lease released',
        async () => ((await env.getLease('stuck')) === undefined ? true : undefined),
        REVOCATION_TIMEOUT_MS + 20_000,
      );
    } finally {
      heal();
    }
    const warning = (await env.events('stuck')).find((e) => e.reason === 'RevocationAbandoned');
    expect(warning?.type).toBe('Warning');
    expect(warning?.message).toContain(serviceId);
    expect(warning?.message).toContain(leased.status?.current?.expiresAt);
    // Honest about it: the key was not revoked and lives until its TTL.
    expect(env.em.isApiKeyValid(key)).toBe(true);
  });

  it('while deleting: a service that comes back within the bound gets the key revoked', async () => {
    const secret = env.credentialSecret(300);
    await env.createLease('recover', { credential: { name: secret } });
    await env.leased('recover');
    const key = await env.apiKey('recover');
    failServiceIdDeletion();
    try {
      await env.deleteLease('recover');
      await env.waitLease('recover', 'a failed attempt', (l) =>
        (l.status?.pendingRevocations ?? []).some((p) => p.attempts > 0),
      );
    } finally {
      heal();
    }
    await eventually(
      'the lease released',
      async () => ((await env.getLease('recover')) === undefined ? true : undefined),
      REVOCATION_TIMEOUT_MS + 20_000,
    );
    expect(env.em.isApiKeyValid(key)).toBe(false);
  });
});
