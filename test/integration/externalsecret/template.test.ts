// spec.target.template against a real API server and the emulator: rendered keys and Secret
// type, mergePolicy both ways, a rotation that re-renders, templateFrom ConfigMaps that are
// watched, and a failing template that writes nothing and leaks nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import {
  core,
  createExternalSecret,
  decoded,
  getExternalSecret,
  getSecret,
  patchExternalSecret,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-template'));
});

afterAll(() => stopFixture(operator, sm));

const smtp = { type: 'username_password', name: SEED.smtp.name };

async function configMap(name: string, data: Record<string, string>): Promise<void> {
  try {
    await core.replaceNamespacedConfigMap({ namespace, name, body: { metadata: { name }, data } });
  } catch {
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name }, data } });
  }
}

async function allEventText(): Promise<string> {
  const list = await core.listNamespacedEvent({ namespace });
  return list.items.map((e) => `${e.reason} ${e.message}`).join('\n');
}

describe('spec.target.template', () => {
  it('builds an icr.io pull secret from an API key, and a rotation renders it again', async () => {
    sm.emulator.createSecret({ type: 'arbitrary', name: 'icr-key', payload: 'first-api-key' });
    await createExternalSecret(namespace, 'icr-pull', {
      storeRef: sm.storeRef,
      refreshInterval: '5s',
      target: {
        template: {
          type: 'kubernetes.io/dockerconfigjson',
          metadata: { labels: { purpose: 'pull' } },
          data: { '.dockerconfigjson': '{{ dockerConfigJson "icr.io" "iamapikey" .apikey }}' },
        },
      },
      data: [{ secretKey: 'apikey', remoteRef: { type: 'arbitrary', name: 'icr-key' } }],
    });
    const auth = (key: string) => Buffer.from(`iamapikey:${key}`).toString('base64');
    const secret = await waitForSecret(namespace, 'icr-pull');
    expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
    expect(secret.metadata?.labels?.purpose).toBe('pull');
    // Replace (the default): the key read is an input only.
    expect(Object.keys(decoded(secret))).toEqual(['.dockerconfigjson']);
    expect(JSON.parse(decoded(secret)['.dockerconfigjson'] as string)).toEqual({
      auths: {
        'icr.io': { username: 'iamapikey', password: 'first-api-key', auth: auth('first-api-key') },
      },
    });

    sm.emulator.rotateSecret('icr-key', { payload: 'second-api-key' });
    const rotated = await waitForSecret(namespace, 'icr-pull', (data) =>
      (data['.dockerconfigjson'] ?? '').includes('second-api-key'),
    );
    expect(JSON.parse(decoded(rotated)['.dockerconfigjson'] as string).auths['icr.io'].auth).toBe(
      auth('second-api-key'),
    );
  });

  it('renders a DSN from username_password fields with urlquery escaping; Merge keeps the keys read', async () => {
    sm.emulator.createSecret({
      type: 'username_password',
      name: 'orders-db-test',
      username: 'orders app',
      password: 'p@ss/w:rd?',
    });
    const dsn =
      'postgres://{{ .db.username | urlquery }}:{{ .db.password | urlquery }}' +
      '@db.example.internal:5432/orders';
    await createExternalSecret(namespace, 'orders-dsn', {
      storeRef: sm.storeRef,
      target: { template: { data: { DATABASE_URL: dsn } } },
      data: [{ secretKey: 'db', remoteRef: { type: 'username_password', name: 'orders-db-test' } }],
    });
    await createExternalSecret(namespace, 'orders-dsn-merged', {
      storeRef: sm.storeRef,
      target: { template: { mergePolicy: 'Merge', data: { DATABASE_URL: dsn } } },
      dataFrom: [{ extract: { type: 'username_password', name: 'orders-db-test' } }],
      data: [{ secretKey: 'db', remoteRef: { type: 'username_password', name: 'orders-db-test' } }],
    });
    const want = 'postgres://orders%20app:p%40ss%2Fw%3Ard%3F@db.example.internal:5432/orders';
    const replaced = decoded(await waitForSecret(namespace, 'orders-dsn'));
    expect(replaced).toEqual({ DATABASE_URL: want });
    const merged = decoded(await waitForSecret(namespace, 'orders-dsn-merged'));
    expect(Object.keys(merged).sort()).toEqual(['DATABASE_URL', 'db', 'password', 'username']);
    expect(merged.DATABASE_URL).toBe(want);
    expect(merged.password).toBe('p@ss/w:rd?');
  });

  it('gives the template nothing of JavaScript objects: constructor and __proto__ render as missing', async () => {
    await createExternalSecret(namespace, 'sandboxed', {
      storeRef: sm.storeRef,
      target: {
        template: {
          data: {
            out: '{{ default "none" .constructor }} {{ default "none" .db.__proto__ }} {{ default "none" $.toString }}',
          },
        },
      },
      data: [{ secretKey: 'db', remoteRef: smtp }],
    });
    expect(decoded(await waitForSecret(namespace, 'sandboxed')).out).toBe('none none none');
  });

  it('a failing template: TemplateError naming key and position, the Secret untouched, no value anywhere', async () => {
    await createExternalSecret(namespace, 'smtp-settings', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      target: { template: { data: { 'smtp.conf': 'user={{ .user }}\npass={{ .pw }}\n' } } },
      data: [
        { secretKey: 'user', remoteRef: { ...smtp, property: 'username' } },
        { secretKey: 'pw', remoteRef: { ...smtp, property: 'password' } },
      ],
    });
    const before = await waitForSecret(namespace, 'smtp-settings');
    expect(decoded(before)['smtp.conf']).toBe(`user=mailer\npass=${SEED.smtpPassword}\n`);

    await patchExternalSecret(namespace, 'smtp-settings', {
      spec: {
        target: {
          template: { data: { 'smtp.conf': 'user={{ .user }}\npass={{ .pw | b64dec }}\n' } },
        },
      },
    });
    const es = await waitForReason(namespace, 'smtp-settings', 'TemplateError');
    const message = readyOf(es)?.message ?? '';
    expect(message).toContain('spec.target.template.data key smtp.conf: 2:15:');
    expect(message).toContain('b64dec: its argument is not valid base64');
    const after = await getSecret(namespace, 'smtp-settings');
    expect(after?.metadata?.resourceVersion).toBe(before.metadata?.resourceVersion);
    expect(decoded(after)).toEqual(decoded(before));
    const status = JSON.stringify((await getExternalSecret(namespace, 'smtp-settings'))?.status);
    const events = await allEventText();
    expect(events).toContain('TemplateError');
    for (const text of [status, events]) {
      expect(text).not.toContain(SEED.smtpPassword);
      expect(text).not.toContain('mailer');
    }
  });

  it('templateFrom: a ConfigMap change renders again; a huge template is refused', async () => {
    await configMap('mail-templates', { 'app.ini': '[smtp]\nuser = {{ .user }}\n' });
    await createExternalSecret(namespace, 'from-configmap', {
      storeRef: sm.storeRef,
      refreshInterval: '1h',
      target: {
        template: {
          templateFrom: [{ configMap: { name: 'mail-templates' } }],
          data: { inline: '{{ .user | upper }}' },
        },
      },
      data: [{ secretKey: 'user', remoteRef: { ...smtp, property: 'username' } }],
    });
    const first = decoded(await waitForSecret(namespace, 'from-configmap'));
    expect(first).toEqual({ 'app.ini': '[smtp]\nuser = mailer\n', inline: 'MAILER' });

    await configMap('mail-templates', { 'app.ini': '[smtp]\nlogin = {{ .user | quote }}\n' });
    const second = await waitForSecret(namespace, 'from-configmap', (data) =>
      (data['app.ini'] ?? '').includes('login'),
    );
    expect(decoded(second)['app.ini']).toBe('[smtp]\nlogin = "mailer"\n');

    await configMap('mail-templates', { 'app.ini': `{{ .user }}${' '.repeat(70_000)}` });
    const es = await waitForReason(namespace, 'from-configmap', 'TemplateError');
    expect(readyOf(es)?.message).toContain(
      'ConfigMap mail-templates key app.ini (Secret key app.ini): 1:1: the template is 70011 characters long; at most 65536 are allowed',
    );
    expect(decoded(await getSecret(namespace, 'from-configmap'))).toEqual(decoded(second));
  });
});
