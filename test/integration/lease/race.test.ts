// Two operators that both believe they lead (a leader handover, a partition, leader election
// off by mistake) act on the same leases at once. Every lease status write is conditional on the
// resourceVersion its reconcile read, so only one of them can record a credential for a given
// state; a key minted by the loser is revoked at once. The emulator's IAM is the judge: no live
// key may exist that no lease records, and none may be left once the leases are gone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { CustomResources } from '../../../src/controllers/shared/resources.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import { eventually, operatorKube } from '../support/cluster.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { custom, LeaseEnv, type LeaseObject, ready } from './harness.ts';

let env: LeaseEnv;
let second: RunningOperator | undefined;

beforeAll(async () => {
  env = await LeaseEnv.create({ prefix: 'lease-race' });
  second = await startOperator({
    namespaces: [env.namespace],
    logLevel: 'info',
    extraArgs: ['--shutdown-timeout', '2s'],
    deps: { storeRecheckMs: 2_000 },
  });
});

afterAll(async () => {
  await second?.stop();
  await env?.close();
});

const LEASES = 12;

async function allLeases(): Promise<LeaseObject[]> {
  const list = (await custom.listNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.IAMCredentialLease,
    namespace: env.namespace,
  })) as { items: LeaseObject[] };
  return list.items;
}

/** Live keys in the emulator that no lease records as current or pending revocation. */
async function unrecordedLiveKeys(secret: string): Promise<string[]> {
  const recorded = new Set<string>();
  for (const lease of await allLeases()) {
    if (lease.status?.current) recorded.add(lease.status.current.serviceId);
    for (const p of lease.status?.pendingRevocations ?? []) recorded.add(p.serviceId);
  }
  const now = Date.now();
  return env.em
    .credentials()
    .filter(
      (c) =>
        c.secretName === secret &&
        c.state === 'active' &&
        c.expiresAt > now &&
        !recorded.has(c.serviceId),
    )
    .map((c) => c.serviceId);
}

describe('two operators racing on the same leases', () => {
  it('a status write from a stale read is refused with 409 Conflict', async () => {
    const secret = env.credentialSecret(600);
    await env.createLease('stale-write', { credential: { name: secret } });
    const lease = await env.leased('stale-write');
    const stale = (await env.getLease('stale-write')) as LeaseObject & {
      metadata: { resourceVersion: string };
    };
    const resources = new CustomResources(operatorKube().custom);
    const ref = {
      kind: 'IAMCredentialLease',
      namespace: env.namespace,
      name: 'stale-write',
    } as const;
    // Someone else writes first: the version read above is now stale.
    await resources.replaceStatus(ref, { ...lease.status, observedGeneration: 99 });
    const refused = await resources
      .replaceStatus(ref, { ...lease.status }, stale.metadata.resourceVersion)
      .then(
        () => undefined,
        (err: unknown) => err,
      );
    expect(isApiError(refused, 409)).toBe(true);
    await env.deleteLease('stale-write');
  });

  it('records one key per lease, loses no key minted in the race, and leaves none after deletion', async () => {
    const secret = env.credentialSecret(600);
    const names = Array.from({ length: LEASES }, (_, i) => `race-${i}`);
    await Promise.all(
      names.map((name) =>
        env.createLease(name, { credential: { name: secret }, target: { name: `${name}-creds` } }),
      ),
    );
    for (const name of names) await env.leased(name, 90_000);
    // Let both operators settle: reconciles woken by each other's writes finish.
    await eventually(
      'no reconcile left to run on either operator',
      async () => {
        const before = await unrecordedLiveKeys(secret);
        await new Promise((r) => setTimeout(r, 1_500));
        const after = await unrecordedLiveKeys(secret);
        return before.length === 0 && after.length === 0 ? true : undefined;
      },
      30_000,
      500,
    );

    // Each lease's Secret holds the key its status records, and IAM accepts it.
    for (const name of names) {
      const lease = await env.getLease(name);
      expect(ready(lease)).toBe('True');
      const key = await env.apiKey(`${name}-creds`);
      expect(env.em.isApiKeyValid(key)).toBe(true);
      expect((await env.secretData(`${name}-creds`))?.service_id).toBe(
        lease?.status?.current?.serviceId,
      );
    }
    // One current key per lease, all different. A key a racing reconcile minted anyway is
    // recorded as pending revocation (it left the Secret, or never reached it), never lost.
    const current = await Promise.all(
      names.map(async (name) => (await env.getLease(name))?.status?.current?.serviceId),
    );
    expect(new Set(current).size).toBe(LEASES);
    expect(await unrecordedLiveKeys(secret)).toEqual([]);

    await Promise.all(names.map((name) => env.deleteLease(name)));
    await eventually(
      'every lease gone',
      async () =>
        (await allLeases()).some((l) => names.includes(l.metadata.name)) ? undefined : true,
      60_000,
    );
    const left = env.em
      .credentials()
      .filter((c) => c.secretName === secret && c.state === 'active' && c.expiresAt > Date.now());
    expect(left.map((c) => c.serviceId)).toEqual([]);
  });
});
