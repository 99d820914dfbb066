// Two shards (`--label-selector shard=a` and `shard=b`) side by side on one namespace. Each
// reconciles only its own leases, but which key of a secret is the newest (the only one the
// secretVersionData route may revoke, as the secret's `current` version) is a question about
// every lease: shard a revoking its key must not delete the version that shard b's lease holds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { eventually } from '../support/cluster.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { custom, LeaseEnv } from './harness.ts';

let env: LeaseEnv;
const shards: RunningOperator[] = [];

beforeAll(async () => {
  env = await LeaseEnv.create({
    prefix: 'lease-shards',
    secretsManagerSpec: { revocation: 'secretVersionData' },
  });
  await env.stopOperator();
  for (const shard of ['a', 'b']) {
    shards.push(
      await startOperator({
        namespaces: [env.namespace],
        logLevel: 'debug',
        extraArgs: ['--shutdown-timeout', '2s', '--label-selector', `shard=${shard}`],
        deps: { storeRecheckMs: 2_000 },
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all(shards.map((s) => s.stop()));
  await env?.close();
});

async function createShardedLease(name: string, shard: string, secret: string): Promise<void> {
  await custom.createNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.IAMCredentialLease,
    namespace: env.namespace,
    body: {
      apiVersion: API_VERSION,
      kind: 'IAMCredentialLease',
      metadata: { name, namespace: env.namespace, labels: { shard } },
      spec: {
        storeRef: env.sm.storeRef,
        credential: { name: secret },
        target: { name: `${name}-creds` },
        gracePeriod: '0s',
      },
    },
  });
}

describe('sharded lease controllers', () => {
  it("each shard leases only its own, and never revokes the key another shard's lease holds", async () => {
    const secret = env.credentialSecret(600);
    await createShardedLease('in-a', 'a', secret);
    const a = await env.leased('in-a');
    const keyA = await env.apiKey('in-a-creds');
    await createShardedLease('in-b', 'b', secret);
    const b = await env.leased('in-b');
    const keyB = await env.apiKey('in-b-creds');
    expect(keyB).not.toBe(keyA);
    expect(Date.parse(b.status?.current?.issuedAt ?? '')).toBeGreaterThan(
      Date.parse(a.status?.current?.issuedAt ?? ''),
    );
    // A lease of a shard that does not run is left alone by both.
    await createShardedLease('in-c', 'c', secret);
    await new Promise((r) => setTimeout(r, 3_000));
    const c = await env.getLease('in-c');
    expect(c?.status).toBeUndefined();
    expect(c?.metadata.finalizers ?? []).toEqual([]);

    // Shard a releases its lease. Its key is no longer the secret's current version (shard b's
    // is), so it cannot be revoked by version: it is left to expire, and b's key keeps working.
    await env.deleteLease('in-a');
    await eventually('in-a released', async () =>
      (await env.getLease('in-a')) === undefined ? true : undefined,
    );
    expect(env.em.isApiKeyValid(keyB)).toBe(true);
    await shards[0]?.context.events.flush();
    const skipped = (await env.events('in-a')).find((e) => e.reason === 'RevocationSkipped');
    expect(skipped?.message).toContain('newer credential');

    // The last holder goes: its key is the current version, and is revoked.
    await env.deleteLease('in-b');
    await env.deleteLease('in-c');
    await eventually('the current key revoked once its lease is gone', async () =>
      env.em.isApiKeyValid(keyB) ? undefined : true,
    );
  });
});
