import { describe, expect, it } from 'vitest';
import { API_VERSION, type Condition } from '../../api/index.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { FakeClock } from '../../runtime/testing/fake-clock.ts';
import { SecretsManagerClientPool, SecretsManagerError } from '../../secretsmanager/index.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import type { EventRecorder } from '../shared/events.ts';
import type { CustomResources } from '../shared/resources.ts';
import { FakeInformer } from '../shared/testing/informer.ts';
import { FakeEvents, FakeResources, FakeSecrets } from '../shared/testing/kube.ts';
import { classifyStoreError, StoreReconciler } from './reconciler.ts';
import { StoreRegistry } from './registry.ts';

describe('classifyStoreError', () => {
  it('tells a bad key, a wrong endpoint and an unreachable endpoint apart', () => {
    expect(
      classifyStoreError(
        new SecretsManagerError('Unauthenticated', 'iam_token: the API key was not found', {
          operation: 'iam_token',
        }),
      ),
    ).toMatchObject({ reason: 'AuthFailed', retry: 'later' });
    const wrongUrl = classifyStoreError(
      new SecretsManagerError('NotFound', 'vault_login: HTTP 404', {
        operation: 'vault_login',
        status: 404,
      }),
    );
    expect(wrongUrl).toMatchObject({ reason: 'WrongEndpoint' });
    expect(wrongUrl.message).toContain('spec.secretsManager.url');
    const wrongIam = classifyStoreError(
      new SecretsManagerError('InvalidResponse', 'iam_token: response is not JSON', {
        operation: 'iam_token',
      }),
    );
    expect(wrongIam.message).toContain('spec.secretsManager.iamUrl');
    expect(
      classifyStoreError(
        new SecretsManagerError('Unavailable', 'vault_login: connection refused', {
          operation: 'vault_login',
          notSent: true,
          cause: { name: 'Error', code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
        }),
      ),
    ).toMatchObject({ reason: 'Unreachable', retry: 'backoff' });
  });
});

const T0 = Date.UTC(2026, 0, 1, 12);
const KIND = 'ClusterSecretStore';

function setup(random = () => 0.5) {
  const clock = new FakeClock(T0);
  const clusterSecretStores = new FakeInformer();
  const registry = new StoreRegistry({ log: createLogger({ level: 'silent' }) });
  registry.useInformers({
    secretStores: new FakeInformer().informer,
    clusterSecretStores: clusterSecretStores.informer,
    namespaces: new FakeInformer().informer,
  });
  const sm = new FakeSecretsManagerClient(() => clock.now());
  const core = new FakeSecrets();
  const resources = new FakeResources();
  const events = new FakeEvents();
  const reconciler = new StoreReconciler({
    registry,
    pool: new SecretsManagerClientPool({ factory: () => sm }),
    core,
    // The options name the concrete classes; the reconciler uses only what the fakes implement.
    resources: resources as unknown as CustomResources,
    events: events as unknown as EventRecorder,
    clock,
    random,
    recheckMs: 60_000,
  });
  const stored = resources.put(KIND, {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: { name: 'default', uid: 'uid-store', generation: 1 },
    spec: {
      secretsManager: {
        url: 'https://sm.example',
        auth: { apiKey: { secretRef: { name: 'sm-key', key: 'apikey', namespace: 'ops' } } },
      },
    },
  } as KubeObject);
  clusterSecretStores.put(stored);
  const t = {
    clock,
    registry,
    sm,
    core,
    resources,
    events,
    putKey: () =>
      core.put({ metadata: { name: 'sm-key', namespace: 'ops' }, data: { apikey: 'c2VjcmV0' } }),
    reconcile: () =>
      reconciler.reconcile(
        { name: 'default' },
        { log: createLogger({ level: 'silent' }), signal: new AbortController().signal },
      ),
    ready: () =>
      (
        (resources.get(KIND, undefined, 'default') as { status?: { conditions?: Condition[] } })
          .status?.conditions ?? []
      ).find((c) => c.type === 'Ready'),
    state: () => registry.stateOf({ kind: KIND, name: 'default' }),
  };
  return t;
}

describe('StoreReconciler', () => {
  it('a valid store is ready in the registry, Ready Valid in status, with an Event', async () => {
    const t = setup();
    t.putKey();
    const result = await t.reconcile();
    expect(t.state()).toMatchObject({
      ready: true,
      client: t.sm,
      info: { url: 'https://sm.example' },
    });
    expect(t.ready()).toMatchObject({ status: 'True', reason: 'Valid', observedGeneration: 1 });
    expect(t.events.recorded).toEqual([
      expect.objectContaining({ type: 'Normal', reason: 'Valid' }),
    ]);
    expect(t.sm.calls).toMatchObject([{ method: 'validate', args: [{ fresh: true }] }]);
    // recheck + floor(random * recheck * 0.1), with random 0.5.
    expect(result).toEqual({ requeueAfterMs: 63_000 });
  });

  it('uses the injected random for the recheck jitter', async () => {
    const t = setup(() => 0.999);
    t.putKey();
    expect(await t.reconcile()).toEqual({ requeueAfterMs: 65_994 });
  });

  it('a missing API key Secret is CredentialsMissing, and the store is not usable', async () => {
    const t = setup();
    const result = await t.reconcile();
    expect(t.ready()).toMatchObject({ status: 'False', reason: 'CredentialsMissing' });
    expect(t.ready()?.message).toContain('ops/sm-key does not exist');
    expect(t.state()).toMatchObject({ ready: false, reason: 'CredentialsMissing' });
    expect(t.events.recorded).toEqual([
      expect.objectContaining({ type: 'Warning', reason: 'CredentialsMissing' }),
    ]);
    expect(t.sm.calls).toEqual([]);
    expect(result).toEqual({ requeueAfterMs: 63_000 });
  });

  it('writes status only when it changed; a recheck reuses the login', async () => {
    const t = setup();
    t.putKey();
    await t.reconcile();
    expect(t.resources.writes).toHaveLength(1);
    await t.clock.advance(63_000);
    await t.reconcile();
    expect(t.resources.writes).toHaveLength(1);
    expect(t.sm.calls.at(-1)).toMatchObject({ method: 'validate', args: [{ fresh: false }] });
    expect(t.events.recorded).toHaveLength(1);
  });
});
