// spec.target.template on an IAMCredentialLease: the leased key rendered into a config file
// beside the credential keys, rendered again on a re-lease and on a templateFrom ConfigMap
// change, and a broken template that leases nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/cluster.ts';
import { core, LeaseEnv, readyReason, sleep } from './harness.ts';

let env: LeaseEnv;

beforeAll(async () => {
  env = await LeaseEnv.create({ prefix: 'lease-template' });
});

afterAll(async () => {
  await env?.close();
});

const CONFIG = '[default]\napi_key = {{ .apikey }}\nservice_id = {{ .service_id }}\n';

describe('IAMCredentialLease spec.target.template', () => {
  it('renders a config file holding the leased key; a re-lease renders the new key', async () => {
    const credential = env.credentialSecret(3600);
    await env.createLease('uploader', {
      credential: { name: credential },
      target: {
        name: 'uploader-creds',
        template: { data: { 'credentials.ini': CONFIG } },
      },
    });
    const lease = await env.leased('uploader');
    const data = (await env.secretData('uploader-creds')) ?? {};
    expect(Object.keys(data).sort()).toEqual(['apikey', 'credentials.ini', 'service_id']);
    expect(env.em.isApiKeyValid(data.apikey as string)).toBe(true);
    expect(data['credentials.ini']).toBe(
      `[default]\napi_key = ${data.apikey}\nservice_id = ${data.service_id}\n`,
    );
    expect(data.service_id).toBe(lease.status?.current?.serviceId);

    // A new credential source re-leases: the file follows the new key.
    const other = env.credentialSecret(3600);
    await env.patchLease('uploader', { credential: { name: other } });
    const renewed = await eventually('a new key in the Secret', async () => {
      const now = await env.secretData('uploader-creds');
      return now?.apikey && now.apikey !== data.apikey ? now : undefined;
    });
    expect(renewed['credentials.ini']).toContain(`api_key = ${renewed.apikey}\n`);
  });

  it('a templateFrom ConfigMap change renders the file again without leasing a new key', async () => {
    await core.createNamespacedConfigMap({
      namespace: env.namespace,
      body: {
        metadata: { name: 'cli-config' },
        data: { 'config.json': '{"key":"{{ .apikey }}"}' },
      },
    });
    await env.createLease('cli', {
      credential: { name: env.credentialSecret(3600) },
      target: {
        name: 'cli-creds',
        template: { templateFrom: [{ configMap: { name: 'cli-config' } }] },
      },
    });
    await env.leased('cli');
    const first = (await env.secretData('cli-creds')) ?? {};
    expect(JSON.parse(first['config.json'] as string)).toEqual({ key: first.apikey });

    await core.replaceNamespacedConfigMap({
      namespace: env.namespace,
      name: 'cli-config',
      body: {
        metadata: { name: 'cli-config' },
        data: { 'config.json': '{"apiKey":{{ .apikey | quote }}}' },
      },
    });
    const second = await eventually('the file rendered from the new ConfigMap', async () => {
      const now = await env.secretData('cli-creds');
      return now?.['config.json']?.includes('apiKey') ? now : undefined;
    });
    expect(second.apikey).toBe(first.apikey);
    expect(JSON.parse(second['config.json'] as string)).toEqual({ apiKey: first.apikey });

    // An edit that does not render leaves the working file in place.
    await core.replaceNamespacedConfigMap({
      namespace: env.namespace,
      name: 'cli-config',
      body: { metadata: { name: 'cli-config' }, data: { 'config.json': '{{ .apikey | nosuch }}' } },
    });
    await sleep(3_000);
    expect(await env.secretData('cli-creds')).toEqual(second);
  });

  it('a template that cannot render leases nothing: TemplateError with its position', async () => {
    const minted = () => env.em.mintedApiKeys().length;
    const before = minted();
    await env.createLease('broken', {
      credential: { name: env.credentialSecret(3600) },
      target: { name: 'broken-creds', template: { data: { f: 'x\n{{ .apikey | nosuch }}' } } },
    });
    const lease = await env.waitLease(
      'broken',
      'TemplateError',
      (l) => readyReason(l) === 'TemplateError',
    );
    const message = lease.status?.conditions?.find((c) => c.type === 'Ready')?.message ?? '';
    expect(message).toContain('spec.target.template.data key f: 2:14: unknown function "nosuch"');
    expect(lease.status?.current).toBeUndefined();
    expect(await env.secretData('broken-creds')).toBeUndefined();
    expect(minted()).toBe(before);
  });
});
