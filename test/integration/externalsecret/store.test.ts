// SecretStore / ClusterSecretStore validation on the real API server against the emulator: Ready
// only after a real login, and a bad key, a wrong URL, an unreachable endpoint and a missing key
// Secret each reported with their own reason.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_VERSION } from '../../../src/api/group.ts';
import { createNamespace, eventually, kubeConfig } from '../support/cluster.ts';
import {
  createStore,
  startTestEmulator,
  storeReadyCondition,
  type TestEmulator,
} from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

const kc = kubeConfig();
const core = kc.makeApiClient(CoreV1Api);
let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;
let notSecretsManager: Server;
let notSecretsManagerUrl: string;

beforeAll(async () => {
  namespace = await createNamespace('es-store');
  sm = await startTestEmulator({ namespace });
  // Any web server that is not Secrets Manager: answers 404 to everything.
  notSecretsManager = createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<html>not here</html>');
  });
  await new Promise<void>((resolve) => notSecretsManager.listen(0, '127.0.0.1', resolve));
  notSecretsManagerUrl = `http://127.0.0.1:${(notSecretsManager.address() as AddressInfo).port}`;
  operator = await startOperator({ namespaces: [namespace], deps: { storeRecheckMs: 2_000 } });
});

afterAll(async () => {
  await operator?.stop();
  await sm?.stop();
  notSecretsManager?.close();
});

async function store(name: string, secretsManager: Record<string, unknown>): Promise<void> {
  await createStore(kc, 'SecretStore', namespace, {
    apiVersion: API_VERSION,
    kind: 'SecretStore',
    metadata: { name, namespace },
    spec: { secretsManager },
  });
}

async function readyOf(name: string) {
  return eventually(`a Ready condition on ${name}`, () =>
    storeReadyCondition(kc, 'SecretStore', namespace, name),
  );
}

describe('store validation', () => {
  it('is Ready after a real IAM exchange and Vault login', async () => {
    await sm.waitReady();
    const ready = await readyOf(sm.store.name);
    expect(ready).toMatchObject({ status: 'True', reason: 'Valid' });
    expect(sm.emulator.counters().logins).toBeGreaterThan(0);
  });

  it('reports a bad API key as AuthFailed', async () => {
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'wrong-key' }, stringData: { apikey: 'not-a-known-key' } },
    });
    await store('bad-key', {
      url: sm.url,
      iamUrl: sm.url,
      auth: { apiKey: { secretRef: { name: 'wrong-key', key: 'apikey' } } },
    });
    const ready = await readyOf('bad-key');
    expect(ready).toMatchObject({ status: 'False', reason: 'AuthFailed' });
    expect(ready.message).toContain('API key');
    expect(ready.message).not.toContain('not-a-known-key');
  });

  it('reports a URL that is not Secrets Manager as WrongEndpoint', async () => {
    await store('wrong-url', {
      url: notSecretsManagerUrl,
      iamUrl: sm.url,
      auth: { apiKey: { secretRef: { name: sm.secretName, key: 'apikey' } } },
    });
    const ready = await readyOf('wrong-url');
    expect(ready).toMatchObject({ status: 'False', reason: 'WrongEndpoint' });
    expect(ready.message).toContain('spec.secretsManager.url');
  });

  it('reports an endpoint nobody listens on as Unreachable', async () => {
    await store('unreachable', {
      url: 'http://127.0.0.1:1',
      iamUrl: 'http://127.0.0.1:1',
      auth: { apiKey: { secretRef: { name: sm.secretName, key: 'apikey' } } },
    });
    const ready = await readyOf('unreachable');
    expect(ready).toMatchObject({ status: 'False', reason: 'Unreachable' });
    expect(ready.message).toContain('cannot reach');
  });

  it('reports a missing key Secret as CredentialsMissing, then Ready once it exists', async () => {
    await store('late-key', {
      url: sm.url,
      iamUrl: sm.url,
      auth: { apiKey: { secretRef: { name: 'late-key', key: 'apikey' } } },
    });
    const missing = await readyOf('late-key');
    expect(missing).toMatchObject({ status: 'False', reason: 'CredentialsMissing' });
    expect(missing.message).toContain(`${namespace}/late-key does not exist`);
    await core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'late-key' }, stringData: { apikey: sm.apiKey } },
    });
    await eventually('late-key Ready', async () => {
      const ready = await storeReadyCondition(kc, 'SecretStore', namespace, 'late-key');
      return ready?.status === 'True' ? ready : undefined;
    });
  });

  it('records an Event on the transition to Ready', async () => {
    const events = await eventually('a Valid Event', async () => {
      const list = await core.listNamespacedEvent({ namespace });
      const found = list.items.filter(
        (e) => e.involvedObject.name === sm.store.name && e.reason === 'Valid',
      );
      return found.length > 0 ? found : undefined;
    });
    expect(events[0]?.type).toBe('Normal');
    expect(events[0]?.reportingComponent).toBe('secrets-manager-operator');
  });
});
