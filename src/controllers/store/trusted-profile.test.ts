import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, settle } from '../../runtime/testing/fake-clock.ts';
import { Transport } from '../../secretsmanager/http.ts';
import { IamTokenSource, type TrustedProfileCredential } from '../../secretsmanager/iam.ts';
import { detachedMetrics } from '../../secretsmanager/metrics.ts';
import { DEFAULT_RETRY_POLICY } from '../../secretsmanager/retry.ts';
import { IAM_URL, MockSecretsManager } from '../../secretsmanager/testing/mock-server.ts';
import { apiError } from '../shared/testing/kube.ts';
import { classifyStoreError } from './reconciler.ts';
import {
  fileTokenSource,
  serviceAccountTokenSource,
  type TokenRequestApi,
  trustedProfileCredential,
} from './trusted-profile.ts';

let server: MockSecretsManager | undefined;
let dir: string | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

const PROFILE = 'Profile-00000000-0000-4000-a000-000000000001';

/** An IAM that takes any cr-token for PROFILE and records the tokens it was sent. */
function iamWith(credential: TrustedProfileCredential) {
  server = new MockSecretsManager();
  const sent: string[] = [];
  let refuse: string | undefined;
  server.on(IAM_URL, 'POST', '/identity/token', (req) => {
    const form = new URLSearchParams(req.body);
    sent.push(form.get('cr_token') ?? '');
    if (refuse || form.get('profile_id') !== PROFILE) {
      return {
        status: 401,
        body: { errorCode: 'BXNIM0446E', errorMessage: refuse ?? 'no such profile' },
      };
    }
    return {
      status: 200,
      body: {
        access_token: `iam-${sent.length}`,
        refresh_token: 'x',
        token_type: 'Bearer',
        expires_in: 3600,
        expiration: 0,
      },
    };
  });
  const clock = new FakeClock();
  const metrics = detachedMetrics();
  const iam: IamTokenSource = new IamTokenSource({
    iamUrl: IAM_URL,
    credential: { trustedProfile: credential },
    transport: new Transport({
      dispatcher: server.agent,
      clock,
      timeoutMs: 10_000,
      metrics,
      secrets: () => iam.secrets(),
    }),
    clock,
    random: () => 0.5,
    metrics,
    retry: DEFAULT_RETRY_POLICY,
  });
  return {
    iam,
    clock,
    sent,
    refuseWith: (m: string) => {
      refuse = m;
    },
    run: <T>(p: Promise<T>) => settle(p, clock),
  };
}

describe('trusted-profile token sources', () => {
  it('re-reads the projected token file for each exchange, once per IAM token life', async () => {
    dir = await mkdtemp(join(tmpdir(), 'smo-token-'));
    const path = join(dir, 'sa-token');
    await writeFile(path, 'sa-token-one\n');
    let reads = 0;
    const source = fileTokenSource(path, async (p) => {
      reads += 1;
      const { readFile } = await import('node:fs/promises');
      return readFile(p, 'utf8');
    });
    const { iam, clock, sent, run } = iamWith({
      profile: { id: PROFILE },
      source: `token file ${path}`,
      crToken: source,
    });
    const first = await run(iam.token());
    expect(await run(iam.token())).toBe(first);
    expect(sent).toEqual(['sa-token-one']);
    expect(reads).toBe(1);
    // The kubelet rotates the file; the next exchange (at 80% of the IAM token's life) sends it.
    await writeFile(path, 'sa-token-two\n');
    clock.tick(2_881_000);
    const second = await run(iam.token());
    expect(second).not.toBe(first);
    expect(sent).toEqual(['sa-token-one', 'sa-token-two']);
    expect(reads).toBe(2);
  });

  it('reports what IAM said about a refused token, without the token', async () => {
    const { iam, run, refuseWith } = iamWith({
      profile: { id: PROFILE },
      source: 'service account team-a/reader',
      crToken: async () => 'SA-TOKEN-abcdef0123456789',
    });
    refuseWith('not trusted: SA-TOKEN-abcdef0123456789 has no link');
    const err = await run(iam.fresh()).catch((e: unknown) => e);
    const outcome = classifyStoreError(err);
    expect(outcome.reason).toBe('AuthFailed');
    expect(outcome.message).toContain('BXNIM0446E');
    expect(outcome.message).toContain('service account team-a/reader');
    expect(outcome.message).toContain(PROFILE);
    expect(outcome.message).not.toContain('SA-TOKEN-abcdef0123456789');
  });

  it('reports a token that cannot be had as CredentialsMissing, naming the service account', async () => {
    const api: TokenRequestApi = {
      createNamespacedServiceAccountToken: async () => {
        throw apiError(404, 'serviceaccounts "ghost" not found');
      },
    };
    const { iam, run, sent } = iamWith({
      profile: { id: PROFILE },
      source: 'service account team-a/ghost',
      crToken: serviceAccountTokenSource(api, {
        namespace: 'team-a',
        name: 'ghost',
        audiences: ['iam'],
        expirationSeconds: 600,
      }),
    });
    const outcome = classifyStoreError(await run(iam.fresh()).catch((e: unknown) => e));
    expect(outcome).toMatchObject({ reason: 'CredentialsMissing' });
    expect(outcome.message).toContain('service account team-a/ghost does not exist');
    expect(sent).toEqual([]);
  });

  it('asks the API server for a token with the audiences and lifetime of the ref', async () => {
    const calls: unknown[] = [];
    const api: TokenRequestApi = {
      createNamespacedServiceAccountToken: async (req) => {
        calls.push(req);
        return {
          spec: { audiences: [] },
          status: { token: 'tok', expirationTimestamp: new Date() },
        };
      },
    };
    const get = serviceAccountTokenSource(api, {
      namespace: 'team-a',
      name: 'reader',
      audiences: ['iam'],
      expirationSeconds: 900,
    });
    expect(await get()).toBe('tok');
    expect(calls).toEqual([
      expect.objectContaining({
        namespace: 'team-a',
        name: 'reader',
        body: expect.objectContaining({ spec: { audiences: ['iam'], expirationSeconds: 900 } }),
      }),
    ]);
  });
});

describe('which service account a store may use', () => {
  const api: TokenRequestApi = {
    createNamespacedServiceAccountToken: async () => ({ spec: { audiences: [] } }),
  };
  const tp = (ref: Record<string, unknown>) => ({
    profileId: PROFILE,
    serviceAccountRef: { name: 'reader', audiences: ['iam'], expirationSeconds: 600, ...ref },
  });

  it("refuses a SecretStore that names another namespace's service account", () => {
    const result = trustedProfileCredential(
      { kind: 'SecretStore', namespace: 'team-a', name: 's' },
      tp({ namespace: 'team-b' }),
      api,
    );
    expect(result.ok).toBe(false);
    expect(!result.ok && result.message).toContain(
      'may only use a service account of its own namespace',
    );
  });

  it("uses the SecretStore's own namespace, and the namespace a ClusterSecretStore names", () => {
    const own = trustedProfileCredential(
      { kind: 'SecretStore', namespace: 'team-a', name: 's' },
      tp({}),
      api,
    );
    expect(own.ok && own.credential.source).toContain('service account team-a/reader');
    const cluster = trustedProfileCredential(
      { kind: 'ClusterSecretStore', name: 'c' },
      tp({ namespace: 'platform' }),
      api,
    );
    expect(cluster.ok && cluster.credential.source).toContain('service account platform/reader');
  });

  it('takes a token file only on a ClusterSecretStore', () => {
    const file = { profileId: PROFILE, tokenPath: '/var/run/secrets/tokens/sa-token' };
    expect(
      trustedProfileCredential({ kind: 'SecretStore', namespace: 'team-a', name: 's' }, file, api)
        .ok,
    ).toBe(false);
    const cluster = trustedProfileCredential({ kind: 'ClusterSecretStore', name: 'c' }, file, api);
    expect(cluster.ok && cluster.credential.source).toBe(
      'token file /var/run/secrets/tokens/sa-token',
    );
  });
});
