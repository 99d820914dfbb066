import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { iamToken, MANAGER_KEY, startTestEmulator, vaultCall, vaultLogin } from './testing.ts';

let em: Emulator;
let vt: string;
let group: string;
beforeAll(async () => {
  em = await startTestEmulator();
});
afterAll(() => em.stop());
beforeEach(async () => {
  em.reset();
  group = em.createGroup({ name: 'team-a' });
  vt = await vaultLogin(em.url, MANAGER_KEY);
});

const call = (method: string, path: string, body?: unknown) =>
  vaultCall(em.url, vt, method, `/v1/ibmcloud${path}`, body);

describe('secrets', () => {
  it('finds names within their group and IDs in any group', async () => {
    const inGroup = em.createSecret({
      type: 'arbitrary',
      name: 'same',
      group: 'team-a',
      payload: 'group',
    });
    em.createSecret({ type: 'arbitrary', name: 'same', payload: 'default' });
    expect((await call('GET', '/arbitrary/secrets/same')).json.data.secret_data.payload).toBe(
      'default',
    );
    expect(
      (await call('GET', `/arbitrary/secrets/groups/${group}/same`)).json.data.secret_data.payload,
    ).toBe('group');
    expect((await call('GET', `/arbitrary/secrets/${inGroup}`)).json.data.secret_group_id).toBe(
      group,
    );
    expect((await call('GET', `/kv/secrets/${inGroup}`)).status).toBe(404);
    expect((await call('GET', '/arbitrary/secrets/groups/no-such-group/same')).status).toBe(404);
  });

  it('moves last_update_date in the list on rotation and metadata update, in one response', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'watched', payload: 'v1' });
    const other = em.createSecret({
      type: 'arbitrary',
      name: 'still',
      payload: 's',
      group: 'team-a',
    });
    const listed = async () => {
      const res = await call('GET', '/arbitrary/secrets');
      expect(res.json.data.secrets_total).toBe(res.json.data.secrets.length);
      const dates = new Map<string, string>();
      for (const s of res.json.data.secrets) dates.set(s.id, s.last_update_date);
      return dates;
    };
    const first = await listed();
    // Every group in one list (no group in the path), as the seed's example shows.
    expect([...first.keys()].sort()).toEqual([id, other].sort());
    em.advanceClock(2_000);
    await call('POST', `/arbitrary/secrets/${id}/rotate`, { payload: 'v2' });
    const rotated = await listed();
    expect(rotated.get(id)).not.toBe(first.get(id));
    expect(rotated.get(other)).toBe(first.get(other));
    // The list and a read agree on the date.
    const read = await call('GET', `/arbitrary/secrets/${id}`);
    expect(read.json.data.last_update_date).toBe(rotated.get(id));
    em.advanceClock(2_000);
    await call('PUT', `/arbitrary/secrets/${id}/metadata`, { description: 'changed' });
    expect((await listed()).get(id)).not.toBe(rotated.get(id));
  });

  it('rejects a second secret of the same type and name in a group', async () => {
    expect((await call('POST', '/kv/secrets', { name: 'dup', payload: { a: 1 } })).status).toBe(
      200,
    );
    const again = await call('POST', '/kv/secrets', { name: 'dup', payload: { a: 2 } });
    expect(again.status).toBe(400);
    expect(again.json.errors[0]).toContain('already exists');
  });

  it('keeps the payload of the current and previous versions only', async () => {
    const id = em.createSecret({ type: 'kv', name: 'cfg', payload: { v: 1 } });
    await call('POST', `/kv/secrets/${id}/rotate`, { payload: { v: 2 } });
    const third = await call('POST', `/kv/secrets/${id}/rotate`, { payload: { v: 3 } });
    expect(third.json.data.versions_total).toBe(3);
    expect(
      third.json.data.versions.map((v: { payload_available: boolean }) => v.payload_available),
    ).toEqual([false, true, true]);
    expect(third.json.data.secret_data.payload).toEqual({ v: 3 });
  });

  it('marks a kv secret downloaded once its value was read', async () => {
    const id = em.createSecret({ type: 'kv', name: 'cfg', payload: { v: 1 } });
    expect((await call('GET', `/kv/secrets/${id}/metadata`)).json.data.downloaded).toBe(false);
    await call('GET', `/kv/secrets/${id}`);
    expect((await call('GET', `/kv/secrets/${id}/metadata`)).json.data.downloaded).toBe(true);
  });

  it('updates metadata, and refuses an expiration date on types that have none', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'old-name', payload: 'p' });
    const res = await call('PUT', `/arbitrary/secrets/${id}/metadata`, {
      name: 'new-name',
      expiration_date: '2031-01-01T00:00:00Z',
    });
    expect(res.json.data).toMatchObject({
      name: 'new-name',
      expiration_date: '2031-01-01T00:00:00Z',
    });
    expect((await call('GET', '/arbitrary/secrets/new-name')).status).toBe(200);
    const kv = em.createSecret({ type: 'kv', name: 'cfg', payload: {} });
    expect(
      (await call('PUT', `/kv/secrets/${kv}/metadata`, { expiration_date: '2031-01-01T00:00:00Z' }))
        .status,
    ).toBe(400);
  });

  it('generates a password when a username_password rotation gives none', async () => {
    const id = em.createSecret({
      type: 'username_password',
      name: 'smtp',
      username: 'u',
      password: 'first',
    });
    const res = await call('POST', `/username_password/secrets/${id}/rotate`, {});
    expect(res.json.data.secret_data.username).toBe('u');
    expect(res.json.data.secret_data.password).toMatch(/^\w{32}$/);
  });

  it('refuses to delete a locked secret until its locks are removed', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'locked', payload: 'p' });
    await call('POST', `/arbitrary/locks/${id}/lock`, { locks: [{ name: 'app-1' }] });
    expect((await call('DELETE', `/arbitrary/secrets/${id}`)).status).toBe(400);
    const unlocked = await call('POST', `/arbitrary/locks/${id}/unlock`, { locks: ['*'] });
    expect(unlocked.json.data.versions[0].locks).toEqual([]);
    expect((await call('DELETE', `/arbitrary/secrets/${id}`)).status).toBe(200);
    expect((await call('GET', `/arbitrary/secrets/${id}`)).status).toBe(404);
  });

  it('lock_exclusive_delete moves a lock to the current version and drops unlocked previous data', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'x1', payload: 'v1' });
    await call('POST', `/arbitrary/locks/${id}/lock`, { locks: [{ name: 'app' }] });
    await call('POST', `/arbitrary/secrets/${id}/rotate`, { payload: 'v2' });
    const res = await call('POST', `/arbitrary/locks/${id}/lock_exclusive_delete`, {
      locks: [{ name: 'app' }],
    });
    expect(res.json.data.versions).toEqual([
      expect.objectContaining({ alias: 'current', locks: ['app'], payload_available: true }),
      expect.objectContaining({ alias: 'previous', locks: [], payload_available: false }),
    ]);
  });

  it('pages and filters locks', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'x1', payload: 'p' });
    const locks = ['bookkeeping', 'billing', 'audit-book'].map((name) => ({ name }));
    await call('POST', `/arbitrary/locks/${id}/lock`, { locks });
    const search = await call('GET', `/arbitrary/locks/${id}?search=book`);
    expect(search.json.data.locks.map((l: { name: string }) => l.name).sort()).toEqual([
      'audit-book',
      'bookkeeping',
    ]);
    const paged = await call('GET', `/arbitrary/locks/${id}?limit=1&offset=1`);
    expect(paged.json.data).toMatchObject({ locks_total: 3, locks: [expect.any(Object)] });
  });

  it('does not delete a secret group that still has secrets', async () => {
    em.createSecret({ type: 'arbitrary', name: 'x1', group: 'team-a', payload: 'p' });
    const res = await vaultCall(em.url, vt, 'DELETE', `/v1/auth/ibmcloud/manage/groups/${group}`);
    expect(res.status).toBe(400);
  });

  it('requires configured engines for certificates, and reports bad JSON as 400', async () => {
    const pub = await call('POST', '/public_cert/secrets', {
      name: 'web',
      ca: 'none',
      dns: 'none',
      common_name: 'example.com',
    });
    expect(pub.status).toBe(400);
    expect(pub.json.errors[0]).toContain('certificate authority configuration "none" not found');
    const res = await fetch(`${em.url}/v1/ibmcloud/kv/secrets`, {
      method: 'POST',
      headers: { 'x-vault-token': vt },
      body: '{',
    });
    expect(res.status).toBe(400);
  });

  it('drops the payload of a version through the REST call, for non-dynamic types', async () => {
    const id = em.createSecret({ type: 'arbitrary', name: 'x1', payload: 'p' });
    const token = await iamToken(em.url, MANAGER_KEY);
    const res = await fetch(`${em.url}/api/v2/secrets/${id}/versions/current/secret_data`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(204);
    expect((await call('GET', `/arbitrary/secrets/${id}`)).status).toBe(404);
  });
});
