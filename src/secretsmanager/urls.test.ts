import { describe, expect, it } from 'vitest';
import { isInvalidRequest } from './errors.ts';
import {
  listPath,
  normalizeBaseUrl,
  REGIONS,
  secretPath,
  secretsManagerUrl,
  secretVersionDataPath,
  serviceIdPath,
} from './urls.ts';

const ID = '0f4c764e-dc3d-44d1-bd60-a2f7cd91e0c0';

describe('secretsManagerUrl', () => {
  it('builds public and private endpoints', () => {
    expect(secretsManagerUrl({ instanceId: ID, region: 'us-south' })).toBe(
      `https://${ID}.us-south.secrets-manager.appdomain.cloud`,
    );
    expect(secretsManagerUrl({ instanceId: ID, region: 'eu-de', private: true })).toBe(
      `https://${ID}.private.eu-de.secrets-manager.appdomain.cloud`,
    );
  });

  it('knows every region of the peers list', () => {
    expect(REGIONS).toHaveLength(13);
    for (const region of REGIONS)
      expect(() => secretsManagerUrl({ instanceId: ID, region })).not.toThrow();
  });

  it('rejects an unknown region with the list of valid ones', () => {
    try {
      secretsManagerUrl({ instanceId: ID, region: 'us-west' });
      expect.unreachable();
    } catch (e) {
      expect(isInvalidRequest(e)).toBe(true);
      expect((e as Error).message).toContain('us-south, us-east');
    }
  });

  it('rejects an instance ID that is not a DNS label', () => {
    expect(() => secretsManagerUrl({ instanceId: 'a.b/c', region: 'us-south' })).toThrow(
      /instanceId/,
    );
  });
});

describe('paths', () => {
  it('follow the Vault API of the seed', () => {
    expect(secretPath({ type: 'arbitrary', id: 'abc' })).toBe('/v1/ibmcloud/arbitrary/secrets/abc');
    expect(secretPath({ type: 'kv', name: 'n', group: 'g' })).toBe(
      '/v1/ibmcloud/kv/secrets/groups/g/n',
    );
    expect(secretPath({ type: 'iam_credentials', name: 'n' })).toBe(
      '/v1/ibmcloud/iam_credentials/creds/n',
    );
    expect(secretPath({ type: 'iam_credentials', id: 'i', group: 'g' })).toBe(
      '/v1/ibmcloud/iam_credentials/creds/groups/g/i',
    );
    expect(listPath('username_password')).toBe('/v1/ibmcloud/username_password/secrets');
    expect(listPath('kv', 'g')).toBe('/v1/ibmcloud/kv/secrets/groups/g');
    expect(listPath('iam_credentials', 'g')).toBe('/v1/ibmcloud/iam_credentials/roles/groups/g');
    expect(secretVersionDataPath('s', 'v')).toBe('/api/v2/secrets/s/versions/v/secret_data');
    expect(serviceIdPath('ServiceId-1')).toBe('/v1/serviceids/ServiceId-1');
  });

  it('encode names so they cannot reach another path', () => {
    expect(secretPath({ type: 'arbitrary', name: '../../sys/leases' })).toBe(
      '/v1/ibmcloud/arbitrary/secrets/..%2F..%2Fsys%2Fleases',
    );
  });
});

describe('normalizeBaseUrl', () => {
  it('drops trailing slashes and refuses credentials in the URL', () => {
    expect(normalizeBaseUrl('https://x.test/', 'url')).toBe('https://x.test');
    expect(normalizeBaseUrl('http://127.0.0.1:8200/base/', 'url')).toBe(
      'http://127.0.0.1:8200/base',
    );
    expect(() => normalizeBaseUrl('https://u:p@x.test', 'url')).toThrow(/credentials/);
    expect(() => normalizeBaseUrl('ftp://x.test', 'url')).toThrow(/https/);
    expect(() => normalizeBaseUrl('not a url', 'url')).toThrow(/not a valid URL/);
  });
});
