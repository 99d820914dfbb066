import { describe, expect, it } from 'vitest';
import * as examples from './examples.ts';
import { externalSecretTargetName, refreshPlan } from './externalsecret.ts';
import { computeRenewAt, leaseTargetName } from './iamcredentiallease.ts';
import {
  INVALID_VALUE,
  parseClusterSecretStore,
  parseExternalSecret,
  parseIAMCredentialLease,
  parseSecretStore,
} from './parse.ts';

// Cases edit valid examples into invalid ones, which no precise type allows.
// biome-ignore lint/suspicious/noExplicitAny: test fixtures are edited freely
type Draft = any;

/** A deep copy with a change applied, so each case starts from a valid example. */
function edit<T>(value: T, change: (copy: Draft) => void): unknown {
  const copy = structuredClone(value);
  change(copy);
  return copy;
}

function messageOf(result: { ok: true } | { ok: false; message: string }): string {
  if (result.ok) throw new Error('expected the input to be rejected');
  return result.message;
}

describe('the examples from the brief parse', () => {
  it.each([
    ['SecretStore', parseSecretStore, examples.exampleSecretStore],
    ['ClusterSecretStore', parseClusterSecretStore, examples.exampleClusterSecretStore],
    ['ExternalSecret', parseExternalSecret, examples.exampleExternalSecret],
    ['minimal ExternalSecret', parseExternalSecret, examples.minimalExternalSecret],
    ['scheduled ExternalSecret', parseExternalSecret, examples.scheduledExternalSecret],
    ['templated ExternalSecret', parseExternalSecret, examples.templatedExternalSecret],
    ['IAMCredentialLease', parseIAMCredentialLease, examples.exampleIAMCredentialLease],
    ['minimal IAMCredentialLease', parseIAMCredentialLease, examples.minimalIAMCredentialLease],
  ] as const)('%s', (_name, parse, example) => {
    const result = (parse as (input: unknown) => { ok: boolean; message?: string })(example);
    expect(result.message).toBeUndefined();
    expect(result.ok).toBe(true);
  });

  it('keeps a lease status a controller wrote, so a restart can resume from it', () => {
    const withStatus = {
      ...examples.exampleIAMCredentialLease,
      status: examples.exampleIAMCredentialLeaseStatus,
    };
    const result = parseIAMCredentialLease(withStatus);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.status).toEqual(examples.exampleIAMCredentialLeaseStatus);
  });

  it('keeps metadata it does not model', () => {
    const input = edit(examples.minimalExternalSecret, (es) => {
      es.metadata.managedFields = [{ manager: 'kubectl' }];
      es.metadata.creationTimestamp = new Date('2026-01-02T03:04:05Z');
    });
    const result = parseExternalSecret(input);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.metadata.managedFields).toEqual([{ manager: 'kubectl' }]);
    expect(result.value.metadata.creationTimestamp).toBe('2026-01-02T03:04:05.000Z');
  });
});

describe('defaults', () => {
  it('an ExternalSecret without storeRef uses the ClusterSecretStore "default", refreshes hourly and owns metadata.name', () => {
    const result = parseExternalSecret(examples.minimalExternalSecret);
    if (!result.ok) throw new Error(result.message);
    const { spec } = result.value;
    expect(spec.storeRef).toEqual({ kind: 'ClusterSecretStore', name: 'default' });
    expect(spec.target).toEqual({ creationPolicy: 'Owner', deletionPolicy: 'Retain' });
    expect(refreshPlan(spec)).toEqual({ kind: 'interval', intervalMs: 3_600_000 });
    expect(externalSecretTargetName(result.value)).toBe('greeting');
  });

  it('an ExternalSecret may name an iam_credentials secret (the controller checks key reuse)', () => {
    const input = edit(examples.minimalExternalSecret, (es) => {
      es.spec.data[0].remoteRef = { type: 'iam_credentials', name: 'reporting-reader' };
    });
    expect(parseExternalSecret(input).ok).toBe(true);
  });

  it('a storeRef with only a name means a SecretStore', () => {
    const input = edit(examples.minimalExternalSecret, (es) => {
      es.spec.storeRef = { name: 'team-secrets' };
    });
    const result = parseExternalSecret(input);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.storeRef).toEqual({ kind: 'SecretStore', name: 'team-secrets' });
  });

  it('refreshInterval 0 syncs once; a schedule replaces the interval', () => {
    expect(refreshPlan({ refreshInterval: '0' })).toEqual({ kind: 'once' });
    expect(refreshPlan({ refreshSchedule: '@daily' })).toEqual({
      kind: 'schedule',
      schedule: '@daily',
    });
  });

  it('a lease gets the documented keys, grace period and revocation on delete', () => {
    const result = parseIAMCredentialLease(examples.minimalIAMCredentialLease);
    if (!result.ok) throw new Error(result.message);
    const { spec } = result.value;
    expect(spec.target.keys).toEqual({ apiKey: 'apikey', serviceId: 'service_id' });
    expect(spec.gracePeriod).toBe('5m');
    expect(spec.revokeOnDelete).toBe(true);
    expect(spec.storeRef).toEqual({ kind: 'ClusterSecretStore', name: 'default' });
    expect(leaseTargetName(result.value)).toBe('reporter');
  });

  it('a store logs in through the public IAM endpoint and revokes the automatic way', () => {
    const result = parseClusterSecretStore(examples.exampleClusterSecretStore);
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.secretsManager.iamUrl).toBe('https://iam.cloud.ibm.com');
    const store = parseSecretStore(examples.exampleSecretStore);
    if (!store.ok) throw new Error(store.message);
    expect(store.value.spec.secretsManager.revocation).toBe('auto');
  });
});

describe('invalid resources give one clear, path-prefixed line', () => {
  const es = examples.exampleExternalSecret;

  it.each([
    [
      'both id and name',
      (x: Draft) => {
        x.spec.data[0].remoteRef.id = '582a8f65-9a2b-a072-4fc3-e69ff3462c23';
      },
      'spec.data[0].remoteRef: set exactly one of id or name',
    ],
    [
      'neither id nor name',
      (x: Draft) => {
        delete x.spec.dataFrom[0].extract.name;
      },
      'spec.dataFrom[0].extract: set exactly one of id or name',
    ],
    [
      'a bad enum',
      (x: Draft) => {
        x.spec.target.creationPolicy = 'Sometimes';
      },
      'spec.target.creationPolicy: Invalid option: expected one of "Owner"|"Merge"|"Orphan"',
    ],
    [
      'an unknown secret type',
      (x: Draft) => {
        x.spec.data[1].remoteRef.type = 'password';
      },
      'spec.data[1].remoteRef.type: Invalid option',
    ],
    [
      'interval and schedule together',
      (x: Draft) => {
        x.spec.refreshSchedule = '@daily';
      },
      'spec: set at most one of refreshInterval or refreshSchedule',
    ],
    [
      'a garbage interval',
      (x: Draft) => {
        x.spec.refreshInterval = 'every hour';
      },
      'spec.refreshInterval: must be a duration such as "1h"',
    ],
    [
      'a too-short interval',
      (x: Draft) => {
        x.spec.refreshInterval = '1s';
      },
      'spec.refreshInterval: must be 0 or at least 5s',
    ],
    [
      'a bad cron',
      (x: Draft) => {
        delete x.spec.refreshInterval;
        x.spec.refreshSchedule = '61 * * * *';
      },
      'spec.refreshSchedule: is not a valid cron expression',
    ],
    [
      'nothing to read',
      (x: Draft) => {
        delete x.spec.data;
        x.spec.dataFrom = [];
      },
      'spec: set at least one entry in data or dataFrom',
    ],
    [
      'extract and find in one entry',
      (x: Draft) => {
        x.spec.dataFrom[0].find = { type: 'kv' };
      },
      'spec.dataFrom[0]: set exactly one of extract or find',
    ],
    [
      'find without a filter',
      (x: Draft) => {
        x.spec.dataFrom[1].find = {};
      },
      'spec.dataFrom[1].find: set at least one filter',
    ],
    [
      'an invalid name regexp',
      (x: Draft) => {
        x.spec.dataFrom[1].find.name.regexp = '(unclosed';
      },
      'spec.dataFrom[1].find.name.regexp: must be a valid regular expression',
    ],
    [
      'a duplicate secretKey',
      (x: Draft) => {
        x.spec.data[1].secretKey = 'username';
      },
      'spec.data[1]: duplicate entry secretKey=username',
    ],
    [
      'a Secret key with a slash',
      (x: Draft) => {
        x.spec.data[0].secretKey = 'a/b';
      },
      'spec.data[0].secretKey: must be a valid Secret key',
    ],
    [
      'a remote name that would escape the URL path',
      (x: Draft) => {
        x.spec.data[0].remoteRef.name = '../sys/leases';
      },
      'spec.data[0].remoteRef.name: must be a secret name',
    ],
    [
      'a missing remoteRef type',
      (x: Draft) => {
        delete x.spec.data[0].remoteRef.type;
      },
      'spec.data[0].remoteRef.type: is required',
    ],
    [
      'a type on a merged Secret',
      (x: Draft) => {
        x.spec.target.creationPolicy = 'Merge';
        x.spec.target.type = 'Opaque';
      },
      'spec.target.type: type cannot be set with creationPolicy Merge',
    ],
    [
      'a rollout target of an unknown kind',
      (x: Draft) => {
        x.spec.rolloutRestartTargets[0].kind = 'CronJob';
      },
      'spec.rolloutRestartTargets[0].kind: Invalid option',
    ],
    [
      'a wrong apiVersion',
      (x: Draft) => {
        x.apiVersion = 'external-secrets.io/v1';
      },
      'apiVersion: Invalid input: expected "secrets-manager.dev/v1alpha1"',
    ],
  ])('ExternalSecret with %s', (_case, change, expected) => {
    const message = messageOf(parseExternalSecret(edit(es, change)));
    expect(message).toContain(expected);
    expect(message).not.toContain('\n');
  });

  it.each([
    [
      'both id and name',
      (x: Draft) => {
        x.spec.credential.id = 'd7a2b83f-997c-4914-857a-86bfcdbf0873';
      },
      'spec.credential: set exactly one of id or name',
    ],
    [
      'renewBefore and renewFraction',
      (x: Draft) => {
        x.spec.renewBefore = '10m';
      },
      'spec: set at most one of renewBefore or renewFraction',
    ],
    [
      'a renewFraction of 1',
      (x: Draft) => {
        x.spec.renewFraction = 1;
      },
      'spec.renewFraction: Too big',
    ],
    [
      'the same key twice',
      (x: Draft) => {
        x.spec.target.keys.serviceId = 'COS_API_KEY';
      },
      'spec.target.keys: apiKey and serviceId must be different keys',
    ],
    [
      'a zero renewBefore',
      (x: Draft) => {
        delete x.spec.renewFraction;
        x.spec.renewBefore = '0';
      },
      'spec.renewBefore: must be at least 1s',
    ],
    [
      'a bad status route',
      (x: Draft) => {
        x.status = structuredClone(examples.exampleIAMCredentialLeaseStatus);
        x.status.revoked[0].route = 'magic';
      },
      'status.revoked[0].route: Invalid option',
    ],
  ])('IAMCredentialLease with %s', (_case, change, expected) => {
    expect(
      messageOf(parseIAMCredentialLease(edit(examples.exampleIAMCredentialLease, change))),
    ).toContain(expected);
  });

  it.each([
    [
      'url and instanceId',
      (x: Draft) => {
        x.spec.secretsManager.url = 'https://example.com';
      },
      'spec.secretsManager: set exactly one of url or instanceId',
    ],
    [
      'instanceId without region',
      (x: Draft) => {
        delete x.spec.secretsManager.region;
      },
      'spec.secretsManager: region is required with instanceId',
    ],
    [
      'an unknown region',
      (x: Draft) => {
        x.spec.secretsManager.region = 'mars-north';
      },
      'spec.secretsManager.region: Invalid option',
    ],
    [
      'no auth method',
      (x: Draft) => {
        x.spec.secretsManager.auth = {};
      },
      'spec.secretsManager.auth: set exactly one authentication method: apiKey or trustedProfile',
    ],
    [
      'both an API key and a trusted profile',
      (x: Draft) => {
        x.spec.secretsManager.auth.trustedProfile = {
          profileId: 'Profile-1',
          serviceAccountRef: { name: 'reader' },
        };
      },
      'spec.secretsManager.auth: set exactly one authentication method',
    ],
    [
      'a trusted profile named without its account',
      (x: Draft) => {
        x.spec.secretsManager.auth = {
          trustedProfile: { profileName: 'reader', serviceAccountRef: { name: 'reader' } },
        };
      },
      'accountId is required with profileName',
    ],
    [
      'a trusted profile with two profile references',
      (x: Draft) => {
        x.spec.secretsManager.auth = {
          trustedProfile: {
            profileId: 'Profile-1',
            profileCrn: 'crn:v1:bluemix:public:iam-identity::a/1::profile:Profile-1',
            serviceAccountRef: { name: 'reader' },
          },
        };
      },
      'set exactly one of profileId, profileName (with accountId) or profileCrn',
    ],
    [
      "a trusted profile's token file (only for ClusterSecretStores)",
      (x: Draft) => {
        x.spec.secretsManager.auth = {
          trustedProfile: { profileId: 'Profile-1', tokenPath: '/var/run/secrets/tokens/sa-token' },
        };
      },
      'tokenPath is only for ClusterSecretStores',
    ],
    [
      'a CA that is not PEM',
      (x: Draft) => {
        x.spec.secretsManager.caBundle = 'not a certificate';
      },
      'spec.secretsManager.caBundle: must be PEM certificates',
    ],
  ])('SecretStore with %s', (_case, change, expected) => {
    expect(messageOf(parseSecretStore(edit(examples.exampleSecretStore, change)))).toContain(
      expected,
    );
  });

  it('a ClusterSecretStore must say which namespace its API key Secret is in', () => {
    const input = edit(examples.exampleClusterSecretStore, (x) => {
      delete x.spec.secretsManager.auth.apiKey.secretRef.namespace;
    });
    expect(messageOf(parseClusterSecretStore(input))).toBe(
      'spec.secretsManager.auth.apiKey.secretRef.namespace: is required',
    );
  });

  it('a ClusterSecretStore condition needs namespaces or a selector', () => {
    const input = edit(examples.exampleClusterSecretStore, (x) => {
      x.spec.conditions.push({});
    });
    expect(messageOf(parseClusterSecretStore(input))).toBe(
      'spec.conditions[2]: set namespaces or namespaceSelector',
    );
  });

  it('never echoes the values it rejects', () => {
    const secret = 'sk-live-4f9a8b7c6d5e';
    const input = edit(es, (x) => {
      x.spec.target.creationPolicy = secret;
      x.spec.data[0].remoteRef.name = `${secret}/..`;
      x.spec.refreshInterval = secret;
      x.spec.target.labels = { app: 42 };
      x.spec.data[1].remoteRef.property = { value: secret };
    });
    const message = messageOf(parseExternalSecret(input));
    expect(message).not.toContain(secret);
    expect(message).not.toContain('4f9a8b7c');
  });

  it('names at most three problems and counts the rest', () => {
    const input = edit(es, (x) => {
      for (const item of x.spec.data) item.remoteRef.type = 'nope';
      x.spec.target.creationPolicy = 'nope';
      x.spec.target.deletionPolicy = 'nope';
    });
    expect(messageOf(parseExternalSecret(input))).toMatch(/; and 2 more$/);
  });

  it('rejects what is not an object at all', () => {
    expect(messageOf(parseExternalSecret(null))).toContain('expected object');
    expect(messageOf(parseExternalSecret({ ...es, spec: undefined }))).toBe('spec: is required');
  });
});

describe('values the validator cannot walk', () => {
  it('are rejected, not thrown (zod 4.6 throws on a null-prototype object for a checked string)', () => {
    const odd = edit(examples.exampleExternalSecret, (x) => {
      x.metadata.name = { length: Object.create(null) };
    });
    expect(parseExternalSecret(odd)).toEqual({ ok: false, message: INVALID_VALUE });
  });
});

describe('a rejection fits in a condition message', () => {
  it('shortens a huge map key in the path (found by parse.fuzz.test.ts)', () => {
    const key = 'k'.repeat(100_000);
    const input = edit(examples.minimalExternalSecret, (es) => {
      es.spec.target = { labels: { [key]: 5 } };
    });
    const message = messageOf(parseExternalSecret(input));
    expect(message.length).toBeLessThan(200);
    expect(message).toBe(
      `spec.target.labels["${'k'.repeat(64)}…"]: Invalid input: expected string, received number`,
    );
  });
});

describe('computeRenewAt', () => {
  const issued = Date.parse('2026-01-02T00:00:00Z');
  const hour = 3_600_000;
  const expires = issued + hour;

  it('renews at 2/3 of the TTL by default, with jitter that only makes it earlier', () => {
    expect(computeRenewAt(issued, expires, {}, () => 0)).toBe(issued + 40 * 60_000);
    expect(computeRenewAt(issued, expires, {}, () => 0.999_999)).toBeGreaterThanOrEqual(
      issued + 36 * 60_000,
    );
    expect(computeRenewAt(issued, expires, {}, () => 0.5)).toBe(issued + 38 * 60_000);
  });

  it('renews renewBefore ahead of expiry, minus up to 10% of it', () => {
    expect(computeRenewAt(issued, expires, { renewBefore: '10m' }, () => 0)).toBe(
      expires - 10 * 60_000,
    );
    expect(computeRenewAt(issued, expires, { renewBefore: '10m' }, () => 1)).toBe(
      expires - 11 * 60_000,
    );
  });

  it('falls back to the default fraction when renewBefore would renew in a loop', () => {
    expect(computeRenewAt(issued, expires, { renewBefore: '2h' }, () => 0)).toBe(
      issued + 40 * 60_000,
    );
  });

  it('honours renewFraction', () => {
    expect(computeRenewAt(issued, expires, { renewFraction: 0.5 }, () => 0)).toBe(
      issued + 30 * 60_000,
    );
  });
});
