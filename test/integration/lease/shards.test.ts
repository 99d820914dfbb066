// Two shards (`--label-selector shard=a` and `shard=b`) side by side on one namespace. Each
// reconciles only its own leases, but which key of a secret is the newest (the only one the
// secretVersionData route may revoke, as the secret's `current` version) is a question about
// every lease: shard a revoking its key must not delete the version that shard b's lease holds.
// Stores are not sharded: one shard at a time (the holder of a Lease) writes their status.

import { CoordinationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import { STORE_STATUS_LEASE } from '../../../src/controllers/store/register.ts';
import {
  createSecretsManagerClient,
  type SecretsManagerClient,
  type SecretsManagerClientOptions,
  SecretsManagerError,
} from '../../../src/secretsmanager/index.ts';
import { eventually } from '../support/cluster.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';
import { custom, kc, LeaseEnv } from './harness.ts';

let env: LeaseEnv;
const shards: RunningOperator[] = [];
/** The shards whose Secrets Manager client fails every validation. */
const cannotReach = new Set<string>();
const SHARDS = ['a', 'b'] as const;
const coordination = kc.makeApiClient(CoordinationV1Api);

beforeAll(async () => {
  env = await LeaseEnv.create({
    prefix: 'lease-shards',
    secretsManagerSpec: { revocation: 'secretVersionData' },
  });
  await env.stopOperator();
  for (const shard of SHARDS) {
    shards.push(
      await startOperator({
        namespaces: [env.namespace],
        logLevel: 'debug',
        extraArgs: [
          '--shutdown-timeout',
          '2s',
          '--label-selector',
          `shard=${shard}`,
          // The store-status Lease lives here (the shards themselves run without election).
          '--leader-election-namespace',
          env.namespace,
          '--leader-election-lease-duration',
          '3s',
          '--leader-election-renew-deadline',
          '2s',
          '--leader-election-retry-period',
          '500ms',
        ],
        deps: {
          storeRecheckMs: 2_000,
          poolFactory: (options) => unreachableWhenTold(shard, options),
        },
      }),
    );
  }
});

function unreachableWhenTold(
  shard: string,
  options: SecretsManagerClientOptions,
): SecretsManagerClient {
  const client = createSecretsManagerClient(options);
  return new Proxy(client, {
    get(target, property) {
      if (property === 'validate' && cannotReach.has(shard)) {
        return () =>
          Promise.reject(
            new SecretsManagerError('Unavailable', 'vault_login: cannot reach (test)', {
              operation: 'vault_login',
            }),
          );
      }
      const value = Reflect.get(target, property);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

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

  it('one shard writes store status: a shard that disagrees does not overwrite it', async () => {
    const holder = await eventually('a holder of the store-status Lease', async () => {
      const lease = await coordination
        .readNamespacedLease({ name: STORE_STATUS_LEASE, namespace: env.namespace })
        .catch(() => undefined);
      return lease?.spec?.holderIdentity || undefined;
    });
    expect(shards.map((s) => s.manager.identity)).toContain(holder);

    // The shard that does not hold the Lease loses its way to Secrets Manager. It rechecks the
    // store every 2 s and fails, but its view is not the store's status: nothing is written.
    const holderIndex = shards.findIndex((s) => s.manager.identity === holder);
    const otherIndex = 1 - holderIndex;
    cannotReach.add(SHARDS[otherIndex] as string);
    const before = await readStore();
    const failures = () =>
      (shards[otherIndex]?.logLines() ?? []).filter(
        (l) => l.controller === 'store' && JSON.stringify(l.err ?? '').includes('Unreachable'),
      ).length;
    await eventually('the other shard failing to validate the store', async () =>
      failures() >= 2 ? true : undefined,
    );
    const after = await readStore();
    const ready = (s: typeof after) => s.status?.conditions?.find((c) => c.type === 'Ready');
    expect(ready(after)?.reason).toBe('Valid');
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    cannotReach.clear();

    // The holder goes: the other shard takes the Lease over.
    const writer = shards[holderIndex] as RunningOperator;
    const other = shards[otherIndex] as RunningOperator;
    await writer.stop();
    await eventually(
      'the remaining shard holds the Lease',
      async () => {
        const lease = await coordination.readNamespacedLease({
          name: STORE_STATUS_LEASE,
          namespace: env.namespace,
        });
        return lease.spec?.holderIdentity === other.manager.identity ? true : undefined;
      },
      20_000,
    );
    await env.sm.waitReady();
  });
});

async function readStore(): Promise<{
  metadata: { resourceVersion: string };
  status?: { conditions?: Array<{ type: string; reason: string }> };
}> {
  return (await custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURALS.SecretStore,
    namespace: env.namespace,
    name: env.sm.store.name,
  })) as Awaited<ReturnType<typeof readStore>>;
}
