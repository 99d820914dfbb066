import { describe, expect, it } from 'vitest';
import { buildRouter } from './index.ts';

describe('router', () => {
  const router = buildRouter();

  it('prefers more literal segments and reports the route with its type filled in', () => {
    expect(router.match('GET', '/v1/ibmcloud/kv/secrets/groups/g1')?.key).toBe(
      'GET /v1/ibmcloud/kv/secrets/groups/{group}',
    );
    expect(router.match('GET', '/v1/ibmcloud/kv/secrets/s1/metadata')?.key).toBe(
      'GET /v1/ibmcloud/kv/secrets/{id}/metadata',
    );
    expect(router.match('GET', '/v1/ibmcloud/arbitrary/locks/groups/g1/s1')?.params).toMatchObject({
      group: 'g1',
      id: 's1',
    });
    expect(
      router.match('GET', '/v1/ibmcloud/arbitrary/locks/s1/versions/current')?.params,
    ).toMatchObject({ id: 's1', version: 'current' });
  });

  it('matches only the documented types and methods', () => {
    expect(router.match('GET', '/v1/ibmcloud/vault/secrets/x')).toBeUndefined();
    expect(router.match('GET', '/v1/ibmcloud/iam_credentials/secrets/x')).toBeUndefined();
    expect(router.match('PATCH', '/v1/ibmcloud/kv/secrets/x')).toBeUndefined();
  });

  it('decodes path parameters', () => {
    expect(router.match('GET', '/v1/ibmcloud/kv/secrets/a%20b')?.params.id).toBe('a b');
  });
});
