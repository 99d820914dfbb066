// Operator restarts: leases resume from status (nothing minted, nothing restarted unless due),
// a renewal missed while the operator was down happens at once, and a credential minted just
// before the operator died is reported instead of silently leaked.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import { LeaseEnv, readyReason, sleep } from './harness.ts';

let env: LeaseEnv;

beforeAll(async () => {
  env = await LeaseEnv.create({ prefix: 'lease-restart' });
});

afterAll(async () => {
  await env?.close();
});

/** Waits until the running operator has reconciled leases at least `n` times. */
async function reconciled(n = 1): Promise<void> {
  await eventually('a lease reconcile', async () =>
    (await env.metric('secrets_manager_operator_reconcile_total', {
      controller: 'iamcredentiallease',
    })) >= n
      ? true
      : undefined,
  );
}

describe('operator restarts', () => {
  it('resumes leases from status: no new credential and no workload restart unless due', async () => {
    const secret = env.credentialSecret(120);
    await env.deployment('steady', 'steady');
    await env.createLease('steady', {
      credential: { name: secret },
      rolloutRestartTargets: [{ kind: 'Deployment', name: 'steady' }],
    });
    const before = await env.leased('steady');
    const key = await env.apiKey('steady');
    const minted = env.em.counters().credentialsMinted;

    await env.stopOperator();
    await env.start();
    await reconciled(2);
    await sleep(1_000);

    expect(env.em.counters().credentialsMinted).toBe(minted);
    expect(await env.apiKey('steady')).toBe(key);
    expect(await env.restartedAt('steady')).toBeUndefined();
    const after = await env.getLease('steady');
    expect(after?.status?.current).toEqual(before.status?.current);
    expect(readyReason(after)).toBe('Leased');
    await env.deleteLease('steady');
  });

  it('an operator down across the renewal time renews at once on start, before the old key expires', async () => {
    const secret = env.credentialSecret(16);
    await env.createLease('missed', { credential: { name: secret }, gracePeriod: '1s' });
    const first = await env.leased('missed');
    const key1 = await env.apiKey('missed');
    await env.stopOperator();
    const renewAt = Date.parse(first.status!.current!.renewAt);
    await sleep(Math.max(0, renewAt - Date.now()) + 1_000);
    expect(env.em.isApiKeyValid(key1)).toBe(true);

    await env.start();
    const next = await env.waitLease(
      'missed',
      'a new credential',
      (l) => l.status?.current?.serviceId !== first.status?.current?.serviceId,
    );
    expect(Date.parse(next.status!.current!.issuedAt)).toBeLessThan(
      Date.parse(first.status!.current!.expiresAt),
    );
    expect(env.em.isApiKeyValid(await env.apiKey('missed'))).toBe(true);
    await env.waitLease('missed', 'the old key revoked', (l) =>
      (l.status?.revoked ?? []).some((r) => r.serviceId === first.status?.current?.serviceId),
    );
    expect(env.em.isApiKeyValid(key1)).toBe(false);
    await env.deleteLease('missed');
  });

  it('a credential minted just before the operator died is reported and expires at its TTL', async () => {
    const secret = env.credentialSecret(6);
    await env.stopOperator();
    let killed = false;
    await env.start({
      hooks: {
        // The operator dies after Secrets Manager minted the key and before status records it.
        afterRead: async () => {
          if (killed) return;
          killed = true;
          await env.stopOperator();
          throw new Error('operator killed');
        },
      },
    });
    await env.createLease('crash', { credential: { name: secret } });
    await eventually('the kill', async () =>
      killed && env.operator === undefined ? true : undefined,
    );
    const orphaned = env.em.credentials().filter((c) => c.secretName === secret);
    expect(orphaned).toHaveLength(1);
    const marked = await env.getLease('crash');
    expect(marked?.status?.minting).toBeDefined();
    expect(marked?.status?.current).toBeUndefined();

    await env.start();
    const leased = await env.leased('crash');
    expect(leased.status?.minting).toBeUndefined();
    expect(leased.status?.current?.serviceId).not.toBe(orphaned[0]?.serviceId);
    const events = await env.events('crash');
    expect(events.find((e) => e.reason === 'UnrecordedCredential')).toMatchObject({
      type: 'Warning',
    });
    expect(await env.metric('secrets_manager_operator_lease_unrecorded_credentials_total')).toBe(1);
    // The lost key cannot be revoked (nobody knows it), but it dies at its TTL.
    await eventually('the orphaned key expired', async () =>
      env.em.credentials().find((c) => c.serviceId === orphaned[0]?.serviceId)?.state === 'expired'
        ? true
        : undefined,
    );
    await env.deleteLease('crash');
  });
});
