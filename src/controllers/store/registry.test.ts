import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { API_VERSION } from '../../api/group.ts';
import { FakeSecretsManagerClient } from '../../secretsmanager/testing/fake-client.ts';
import { FakeInformer } from '../shared/testing/informer.ts';
import { StoreRegistry } from './registry.ts';

const log = pino({ level: 'silent' });
const secretRef = { name: 'k', key: 'apikey' };

function setup() {
  const secretStores = new FakeInformer();
  const clusterSecretStores = new FakeInformer();
  const namespaces = new FakeInformer();
  const registry = new StoreRegistry({ log });
  registry.useInformers({
    secretStores: secretStores.informer,
    clusterSecretStores: clusterSecretStores.informer,
    namespaces: namespaces.informer,
  });
  secretStores.put({
    apiVersion: API_VERSION,
    kind: 'SecretStore',
    metadata: { name: 'sm', namespace: 'team-a', uid: 'u-ss', generation: 1 },
    spec: { secretsManager: { url: 'http://sm', auth: { apiKey: { secretRef } } } },
  });
  clusterSecretStores.put({
    apiVersion: API_VERSION,
    kind: 'ClusterSecretStore',
    metadata: { name: 'default', uid: 'u-cs', generation: 2 },
    spec: {
      secretsManager: {
        url: 'http://sm',
        auth: { apiKey: { secretRef: { ...secretRef, namespace: 'ops' } } },
      },
      conditions: [
        { namespaces: ['team-a'] },
        { namespaceSelector: { matchLabels: { sm: 'yes' } } },
      ],
    },
  });
  namespaces.put({ metadata: { name: 'team-a', labels: {} } });
  namespaces.put({ metadata: { name: 'team-b', labels: {} } });
  return { registry, secretStores, clusterSecretStores, namespaces };
}

describe('StoreRegistry.resolve', () => {
  it('waits (pending) for a store this process has not validated, instead of failing', () => {
    const { registry } = setup();
    expect(registry.resolve('team-a', { kind: 'SecretStore', name: 'sm' })).toMatchObject({
      ok: false,
      reason: 'StoreNotReady',
      pending: true,
    });
  });

  it('hands out the client of a validated store, only for its generation', () => {
    const { registry, secretStores } = setup();
    const client = new FakeSecretsManagerClient();
    const key = { kind: 'SecretStore' as const, name: 'sm', namespace: 'team-a' };
    registry.setState(key, {
      ready: true,
      uid: 'u-ss',
      generation: 1,
      client,
      info: {
        ...key,
        uid: 'u-ss',
        generation: 1,
        url: 'http://sm',
        revocation: 'auto',
        pollIntervalMs: 0,
      },
    });
    const resolved = registry.resolve('team-a', { kind: 'SecretStore', name: 'sm' });
    expect(resolved.ok && resolved.client).toBe(client);
    const changed = secretStores.get('team-a', 'sm');
    secretStores.put({
      ...(changed as object),
      metadata: { ...changed?.metadata, name: 'sm', generation: 2 },
    } as never);
    expect(registry.resolve('team-a', { kind: 'SecretStore', name: 'sm' })).toMatchObject({
      pending: true,
    });
  });

  it('looks a SecretStore up only in the asking namespace', () => {
    const { registry } = setup();
    expect(registry.resolve('team-b', { kind: 'SecretStore', name: 'sm' })).toEqual({
      ok: false,
      reason: 'StoreNotReady',
      message: 'SecretStore team-b/sm does not exist',
    });
  });

  it('admits namespaces by name or label and forbids the rest', () => {
    const { registry, namespaces } = setup();
    const ref = undefined; // the ClusterSecretStore "default"
    expect(registry.resolve('team-a', ref)).toMatchObject({ pending: true });
    expect(registry.resolve('team-b', ref)).toMatchObject({ ok: false, reason: 'Forbidden' });
    const changes: string[] = [];
    registry.onNamespaceChange((ns) => changes.push(ns));
    namespaces.put({ metadata: { name: 'team-b', labels: { sm: 'yes' } } });
    expect(changes).toEqual(['team-b']);
    expect(registry.resolve('team-b', ref)).toMatchObject({ pending: true });
  });

  it('reports a failing store with its reason, and tells listeners when it becomes ready', () => {
    const { registry } = setup();
    const key = { kind: 'ClusterSecretStore' as const, name: 'default' };
    const seen: boolean[] = [];
    registry.onStoreChange((_k, ready) => seen.push(ready));
    registry.setState(key, {
      ready: false,
      uid: 'u-cs',
      generation: 2,
      reason: 'AuthFailed',
      message: 'bad key',
    });
    expect(registry.resolve('team-a', undefined)).toEqual({
      ok: false,
      reason: 'StoreNotReady',
      message: 'ClusterSecretStore default is not ready (AuthFailed): bad key',
    });
    const client = new FakeSecretsManagerClient();
    const info = {
      ...key,
      uid: 'u-cs',
      generation: 2,
      url: 'http://sm',
      revocation: 'auto' as const,
      pollIntervalMs: 0,
    };
    registry.setState(key, { ready: true, uid: 'u-cs', generation: 2, client, info });
    registry.setState(key, { ready: true, uid: 'u-cs', generation: 2, client, info });
    expect(seen).toEqual([false, true]);
  });
});
