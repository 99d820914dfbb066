// remoteRef.version through the operator: previous and a version ID come from the REST API v2
// of the emulator (with the store's IAM token), a version older than previous has no data, and
// iam_credentials refuse a version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestEmulator } from '../support/emulator.ts';
import { startFixture, stopFixture } from '../support/fixture.ts';
import type { RunningOperator } from '../support/operator.ts';
import {
  createExternalSecret,
  decoded,
  readyOf,
  SEED,
  waitForReason,
  waitForSecret,
} from './helpers.ts';

let namespace: string;
let sm: TestEmulator;
let operator: RunningOperator;

beforeAll(async () => {
  ({ namespace, sm, operator } = await startFixture('es-version'));
});

afterAll(() => stopFixture(operator, sm));

describe('remoteRef.version', () => {
  it('reads current, previous (by name) and a version ID side by side', async () => {
    const first = sm.emulator.createSecretDetailed({
      type: 'username_password',
      name: 'rotating-db',
      username: 'app',
      password: 'pw-1',
    });
    const second = sm.emulator.rotateSecret('rotating-db', { password: 'pw-2' }) as string;
    sm.emulator.rotateSecret('rotating-db', { password: 'pw-3' });
    const ref = { type: 'username_password', name: 'rotating-db', property: 'password' };
    await createExternalSecret(namespace, 'versions', {
      storeRef: sm.storeRef,
      data: [
        { secretKey: 'current', remoteRef: ref },
        { secretKey: 'previous', remoteRef: { ...ref, version: 'previous' } },
        {
          secretKey: 'byId',
          remoteRef: { ...ref, id: first.id, name: undefined, version: second },
        },
      ],
    });
    const data = decoded(await waitForSecret(namespace, 'versions'));
    expect(data).toEqual({ current: 'pw-3', previous: 'pw-2', byId: 'pw-2' });
    const rest = sm.emulator.counters().requests['GET /api/v2/secrets/{id}/versions/{version}'];
    expect(rest?.['200']).toBeGreaterThanOrEqual(2);
  });

  it('a version older than previous: InvalidSpec, nothing written, no value in the message', async () => {
    const first = sm.emulator.createSecretDetailed({
      type: 'arbitrary',
      name: 'old-versions',
      payload: 'payload-one',
    });
    sm.emulator.rotateSecret('old-versions', { payload: 'payload-two' });
    sm.emulator.rotateSecret('old-versions', { payload: 'payload-three' });
    await createExternalSecret(namespace, 'too-old', {
      storeRef: sm.storeRef,
      data: [
        {
          secretKey: 'v1',
          remoteRef: { type: 'arbitrary', id: first.id, version: first.version_id },
        },
      ],
    });
    const es = await waitForReason(namespace, 'too-old', 'InvalidSpec');
    expect(readyOf(es)?.message).toMatch(/keeps the data of the current and\s+previous versions/);
    expect(readyOf(es)?.message).not.toContain('payload-');
  });

  it('iam_credentials refuse a version with a clear reason, and nothing is minted', async () => {
    const before = sm.emulator.mintedApiKeys().length;
    await createExternalSecret(namespace, 'iam-version', {
      storeRef: sm.storeRef,
      data: [
        {
          secretKey: 'apikey',
          remoteRef: {
            type: 'iam_credentials',
            name: SEED.iamReuse.name,
            property: 'api_key',
            version: 'previous',
          },
        },
      ],
    });
    const es = await waitForReason(namespace, 'iam-version', 'InvalidSpec');
    expect(readyOf(es)?.message).toMatch(/mints a new API key on every read/);
    expect(sm.emulator.mintedApiKeys().length).toBe(before);
  });
});
