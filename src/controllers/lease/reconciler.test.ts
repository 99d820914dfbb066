import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  type Condition,
  type IAMCredentialLeaseStatus,
  toRfc3339,
} from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import {
  type IamCredentials,
  type IamCredentialsRef,
  SecretsManagerError,
} from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { FINALIZERS } from '../shared/constants.ts';
import { fixedHashKey } from '../shared/hashkey.ts';
import { decodeData } from '../shared/secrets.ts';
import { FakeEvents, FakeResources, FakeRollout, FakeSecrets } from '../shared/testing/kube.ts';
import { ms } from './decide.ts';
import { createLeaseMetrics } from './metrics.ts';
import { LeaseReconciler } from './reconciler.ts';

const KIND = 'IAMCredentialLease';
const NS = 'team-a';
const T0 = Date.UTC(2026, 0, 1, 12);
const log = createLogger({ level: 'silent' });

/** A client that lets a test look at the world (or abort) while a credential is being read. */
class WatchedClient extends FakeSecretsManagerClient {
  onRead: (() => void) | undefined;

  override async getIamCredentials(ref: IamCredentialsRef): Promise<IamCredentials> {
    this.onRead?.();
    return super.getIamCredentials(ref);
  }
}

function setup() {
  const clock = new FakeClock(T0);
  const resources = new FakeResources();
  const secrets = new FakeSecrets();
  const events = new FakeEvents();
  const sm = new WatchedClient(() => clock.now());
  sm.putIamSecret({ id: 'sec-1', name: 'cos-writer', ttlSeconds: 3600 });
  const reconciler = new LeaseReconciler({
    clock,
    random: () => 0,
    resources,
    secrets,
    rollout: new FakeRollout(),
    events,
    stores: {
      resolve: () => ({
        ok: true,
        client: sm,
        store: {
          kind: 'ClusterSecretStore',
          name: 'default',
          uid: 'store-uid',
          generation: 1,
          url: 'https://sm.example',
          revocation: 'auto',
          pollIntervalMs: 0,
        },
      }),
    },
    hashKey: fixedHashKey('0123456789abcdef0123456789abcdef'),
    leases: () => [resources.get(KIND, NS, 'uploader')].filter(Boolean),
    metrics: createLeaseMetrics(new Registry(), () => clock.now()),
  });
  resources.put(KIND, {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'uploader', namespace: NS, uid: 'uid-lease', generation: 1 },
    spec: {
      credential: { name: 'cos-writer' },
      target: { name: 'uploader-creds' },
      gracePeriod: '2m',
    },
  } as KubeObject);
  const t = {
    clock,
    resources,
    secrets,
    events,
    sm,
    reconcile: (signal: AbortSignal = new AbortController().signal) =>
      reconciler.reconcile({ namespace: NS, name: 'uploader' }, { log, signal }),
    lease: () => resources.get(KIND, NS, 'uploader'),
    status: () =>
      ((t.lease() as { status?: IAMCredentialLeaseStatus } | undefined)?.status ??
        {}) as IAMCredentialLeaseStatus,
    ready: () => (t.status().conditions ?? []).find((c: Condition) => c.type === 'Ready'),
    secretData: () => decodeData(secrets.get(NS, 'uploader-creds')?.data),
    mints: () => sm.calls.filter((c) => c.method === 'getIamCredentials').length,
    statusWrites: () => resources.writes.filter((w) => w.op === 'replaceStatus').length,
  };
  return t;
}

type T = ReturnType<typeof setup>;

/** Moves the clock to the renewal time of the current credential. */
async function untilRenewal(t: T): Promise<void> {
  await t.clock.advance(ms(t.status().current?.renewAt ?? '') - t.clock.now());
}

describe('LeaseReconciler', () => {
  it('leases: finalizer first, minting marker before the read, recorded before exposed', async () => {
    const t = setup();
    let atRead:
      | { status: IAMCredentialLeaseStatus; finalizers?: string[]; secretWrites: number }
      | undefined;
    t.sm.onRead = () => {
      atRead = {
        status: t.status(),
        finalizers: t.lease()?.metadata.finalizers,
        secretWrites: t.secrets.writes.length,
      };
    };
    const result = await t.reconcile();
    expect(atRead?.finalizers).toEqual([FINALIZERS.IAMCredentialLease]);
    expect(atRead?.status.minting).toMatchObject({ secretId: 'name cos-writer' });
    expect(atRead?.status.current).toBeUndefined();
    expect(atRead?.secretWrites).toBe(0);
    expect(t.resources.writes.map((w) => w.op)).toEqual([
      'setFinalizers',
      'replaceStatus',
      'replaceStatus',
      'replaceStatus',
    ]);

    const status = t.status();
    expect(status.minting).toBeUndefined();
    expect(status.current).toMatchObject({ serviceId: 'ServiceId-fake-1' });
    expect(status.secretName).toBe('uploader-creds');
    expect(t.secretData()).toEqual({ apikey: 'fake-api-key-1', service_id: 'ServiceId-fake-1' });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Leased' });
    expect(t.events.reasons()).toEqual(['Leased']);
    expect(result).toEqual({ requeueAfterMs: ms(status.current?.renewAt ?? '') - T0 });
  });

  it('renews at renewAt, keeps the old key for the grace period, then revokes it', async () => {
    const t = setup();
    await t.reconcile();
    expect(await t.reconcile()).toMatchObject({ requeueAfterMs: expect.any(Number) });
    expect(t.mints()).toBe(1);

    await untilRenewal(t);
    const renewed = await t.reconcile();
    expect(t.secretData().apikey).toBe('fake-api-key-2');
    expect(t.status().current?.serviceId).toBe('ServiceId-fake-2');
    expect(t.status().pendingRevocations).toMatchObject([
      { serviceId: 'ServiceId-fake-1', revokeAfter: toRfc3339(new Date(t.clock.now() + 120_000)) },
    ]);
    expect(t.events.reasons()).toContain('Renewed');
    expect(t.sm.deletedServiceIds).toEqual([]);
    expect(renewed).toEqual({ requeueAfterMs: 120_000 });

    await t.clock.advance(120_000);
    await t.reconcile();
    expect(t.sm.deletedServiceIds).toEqual(['ServiceId-fake-1']);
    expect(t.status().pendingRevocations ?? []).toEqual([]);
    expect(t.events.reasons().at(-1)).toBe('Revoked');
    expect(t.status().conditions?.find((c) => c.type === 'CredentialsRevoked')).toMatchObject({
      status: 'True',
    });
  });

  it('a key still in the Secret after a renewal that never reached it gets the full grace period once replaced', async () => {
    const t = setup();
    await t.reconcile();
    await untilRenewal(t);
    // The renewal is recorded (key 2 current, key 1 pending), then the operator dies before the
    // Secret write: the Secret still holds key 1.
    t.secrets.failNextWrite(new Error('operator killed'));
    await t.reconcile().catch(() => {});
    expect(t.status().current?.serviceId).toBe('ServiceId-fake-2');
    expect(t.secretData().apikey).toBe('fake-api-key-1');
    // Down for longer than the grace period; key 1 is still valid and in use.
    await t.clock.advance(180_000);
    await t.reconcile();
    expect(t.secretData().apikey).toBe('fake-api-key-3');
    expect(t.sm.deletedServiceIds).not.toContain('ServiceId-fake-1');
    expect(t.status().pendingRevocations).toContainEqual(
      expect.objectContaining({
        serviceId: 'ServiceId-fake-1',
        revokeAfter: toRfc3339(new Date(t.clock.now() + 120_000)),
      }),
    );
  });

  it('a failed read keeps the valid key (Renewing) and mints nothing during the backoff', async () => {
    const t = setup();
    await t.reconcile();
    await untilRenewal(t);
    t.sm.failNext('getIamCredentials', new SecretsManagerError('Unavailable', 'HTTP 503'));
    const failed = await t.reconcile();
    expect(t.mints()).toBe(2);
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Renewing' });
    expect(t.status().minting).toBeUndefined();
    expect(t.secretData().apikey).toBe('fake-api-key-1');
    expect(t.events.recorded.at(-1)).toMatchObject({ type: 'Warning', reason: 'LeaseFailed' });
    const wait = failed?.requeueAfterMs ?? 0;
    expect(wait).toBeGreaterThan(0);

    // Woken early (a Secret event, our own write): same status, no read.
    const writes = t.statusWrites();
    await t.clock.advance(wait - 1);
    await t.reconcile();
    expect(t.mints()).toBe(2);
    expect(t.statusWrites()).toBe(writes);

    await t.clock.advance(1);
    await t.reconcile();
    expect(t.mints()).toBe(3);
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Leased' });
    expect(t.secretData().apikey).toBe('fake-api-key-2');
  });

  it('with no credential yet a failed read is LeaseFailed, not Ready', async () => {
    const t = setup();
    t.sm.failNext('getIamCredentials', new SecretsManagerError('Unavailable', 'HTTP 503'));
    await t.reconcile();
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'LeaseFailed' });
    expect(t.secrets.writes).toEqual([]);
  });

  it('deletion revokes the current key, then removes the finalizer', async () => {
    const t = setup();
    await t.reconcile();
    t.resources.delete(KIND, NS, 'uploader', toRfc3339(new Date(t.clock.now())));
    expect(await t.reconcile()).toBeUndefined();
    expect(t.sm.deletedServiceIds).toEqual(['ServiceId-fake-1']);
    expect(t.lease()).toBeUndefined();
    expect(t.resources.writes.at(-1)).toMatchObject({ op: 'setFinalizers', body: [] });
  });

  it('cancelled during the read: no status or Secret write after, the marker stays', async () => {
    const t = setup();
    const controller = new AbortController();
    t.sm.onRead = () => controller.abort(new Error('lost leadership'));
    // The fake ignores the signal; the real client rejects with Aborted. Both must stop here.
    await expect(t.reconcile(controller.signal)).rejects.toThrow('lost leadership');
    expect(t.status().minting).toBeDefined();
    expect(t.status().current).toBeUndefined();
    expect(t.statusWrites()).toBe(1);
    expect(t.secrets.writes).toEqual([]);

    // The next reconcile (this replica or another) reports what may have been minted.
    t.sm.onRead = undefined;
    await t.reconcile();
    expect(t.events.reasons()).toEqual(['UnrecordedCredential', 'Leased']);
    expect(t.status().minting).toBeUndefined();
  });
});
