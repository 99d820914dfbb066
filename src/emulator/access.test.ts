import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { iamToken, startTestEmulator, vaultCall, vaultLogin } from './testing.ts';

let em: Emulator;
let teamA: string;
let ids: { shared: string; teamA: string; creds: string };

beforeAll(async () => {
  em = await startTestEmulator({
    apiKeys: [
      { key: 'reader', role: 'Reader' },
      { key: 'secrets-reader', role: 'SecretsReader' },
      { key: 'writer', role: 'Writer' },
      { key: 'manager', role: 'Manager' },
      { key: 'team-a-reader', role: 'SecretsReader', groups: ['team-a'] },
    ],
    seed: { groups: [{ name: 'team-a' }] },
  });
  teamA = await vaultIdOf('team-a');
  ids = {
    shared: em.createSecret({ type: 'arbitrary', name: 'shared', payload: 'p' }),
    teamA: em.createSecret({ type: 'arbitrary', name: 'mine', group: 'team-a', payload: 'p' }),
    creds: em.createSecret({
      type: 'iam_credentials',
      name: 'creds',
      access_groups: ['AccessGroupId-1'],
      ttl: '1h',
    }),
  };
});
afterAll(() => em.stop());

async function vaultIdOf(groupName: string): Promise<string> {
  const vt = await vaultLogin(em.url, 'manager');
  const res = await vaultCall(em.url, vt, 'GET', '/v1/auth/ibmcloud/manage/groups');
  return res.json.data.groups.find((g: { name: string }) => g.name === groupName).id;
}

async function statusAs(
  key: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<number> {
  return (await vaultCall(em.url, await vaultLogin(em.url, key), method, path, body)).status;
}

describe('access by API key role', () => {
  it('lets a Reader see metadata but not values or credentials', async () => {
    expect(
      await statusAs('reader', 'GET', `/v1/ibmcloud/arbitrary/secrets/${ids.shared}/metadata`),
    ).toBe(200);
    expect(await statusAs('reader', 'GET', '/v1/ibmcloud/arbitrary/secrets')).toBe(200);
    expect(await statusAs('reader', 'GET', `/v1/ibmcloud/arbitrary/secrets/${ids.shared}`)).toBe(
      403,
    );
    expect(await statusAs('reader', 'GET', '/v1/ibmcloud/iam_credentials/creds/creds')).toBe(403);
  });

  it('lets a SecretsReader read values and mint credentials, but not change anything', async () => {
    expect(
      await statusAs('secrets-reader', 'GET', `/v1/ibmcloud/arbitrary/secrets/${ids.shared}`),
    ).toBe(200);
    expect(
      await statusAs('secrets-reader', 'GET', '/v1/ibmcloud/iam_credentials/creds/creds'),
    ).toBe(200);
    expect(
      await statusAs('secrets-reader', 'POST', '/v1/ibmcloud/arbitrary/secrets', {
        name: 'new',
        payload: 'x',
      }),
    ).toBe(403);
    expect(
      await statusAs(
        'secrets-reader',
        'POST',
        `/v1/ibmcloud/arbitrary/secrets/${ids.shared}/rotate`,
        { payload: 'x' },
      ),
    ).toBe(403);
  });

  it('lets a Writer change secrets but not groups or engine settings', async () => {
    expect(
      await statusAs('writer', 'POST', '/v1/ibmcloud/arbitrary/secrets', {
        name: 'by-writer',
        payload: 'x',
      }),
    ).toBe(200);
    expect(
      await statusAs('writer', 'POST', '/v1/auth/ibmcloud/manage/groups', { name: 'w-group' }),
    ).toBe(403);
    expect(
      await statusAs('writer', 'PUT', '/v1/ibmcloud/iam_credentials/config/root', { api_key: 'k' }),
    ).toBe(403);
    expect(
      await statusAs('manager', 'POST', '/v1/auth/ibmcloud/manage/groups', { name: 'm-group' }),
    ).toBe(200);
  });

  it('keeps a group-limited key inside its groups', async () => {
    const vt = await vaultLogin(em.url, 'team-a-reader');
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/${ids.teamA}`)).status,
    ).toBe(200);
    expect(
      (await vaultCall(em.url, vt, 'GET', `/v1/ibmcloud/arbitrary/secrets/groups/${teamA}/mine`))
        .status,
    ).toBe(200);
    // The default group is a group like any other: not in the list, not readable.
    const other = await vaultCall(
      em.url,
      vt,
      'GET',
      `/v1/ibmcloud/arbitrary/secrets/${ids.shared}`,
    );
    expect(other.status).toBe(403);
    expect(other.json).toEqual({ errors: ['permission denied'] });
    const list = await vaultCall(em.url, vt, 'GET', '/v1/ibmcloud/arbitrary/secrets');
    expect(list.json.data.secrets.map((s: { name: string }) => s.name)).toEqual(['mine']);
    const groups = await vaultCall(em.url, vt, 'GET', '/v1/auth/ibmcloud/manage/groups');
    expect(groups.json.data.groups.map((g: { name: string }) => g.name)).toEqual(['team-a']);
  });

  it('applies the role to the REST version-data deletion too', async () => {
    const token = await iamToken(em.url, 'secrets-reader');
    const res = await fetch(`${em.url}/api/v2/secrets/${ids.creds}/versions/current/secret_data`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
  });
});
