import { generateKeyPairSync, sign } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Emulator } from './index.ts';
import { startTestEmulator, vaultCall } from './testing.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const issuerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PROFILE_ID = 'Profile-00000000-0000-4000-a000-000000000001';
const ACCOUNT = 'a1b2c3';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

function saToken(
  sub: string,
  o: { aud?: string[]; exp?: number; key?: typeof issuerKey.privateKey } = {},
): string {
  const head = `${b64({ alg: 'RS256', kid: 'x' })}.${b64({
    iss: ISSUER,
    sub,
    aud: o.aud ?? ['iam'],
    iat: NOW / 1000 - 10,
    exp: o.exp ?? NOW / 1000 + 600,
  })}`;
  const sig = sign('sha256', Buffer.from(head), o.key ?? issuerKey.privateKey);
  return `${head}.${sig.toString('base64url')}`;
}

let em: Emulator;
afterEach(() => em.stop());

async function start(): Promise<Emulator> {
  em = await startTestEmulator({
    clock: () => NOW,
    computeResourceTokens: {
      publicKeys: issuerKey.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
    seed: {
      trustedProfiles: [
        {
          id: PROFILE_ID,
          name: 'reader',
          accountId: ACCOUNT,
          role: 'SecretsReader',
          links: [{ namespace: 'team-a', serviceAccount: 'reader', cluster: ISSUER }],
        },
      ],
    },
  });
  return em;
}

async function crExchange(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(`${url}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'urn:ibm:params:oauth:grant-type:cr-token',
      ...fields,
    }).toString(),
  });
}

describe('the cr-token grant', () => {
  it('trades a linked service account token for an IAM token that logs in to Vault', async () => {
    await start();
    const cr = saToken('system:serviceaccount:team-a:reader');
    const profiles: Record<string, string>[] = [
      { profile_id: PROFILE_ID },
      { profile_name: 'reader', account: ACCOUNT },
      { profile_crn: `crn:v1:bluemix:public:iam-identity::a/${ACCOUNT}::profile:${PROFILE_ID}` },
    ];
    for (const profile of profiles) {
      const res = await crExchange(em.url, { cr_token: cr, ...profile });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
      const login = await vaultCall(em.url, undefined, 'PUT', '/v1/auth/ibmcloud/login', {
        token: body.access_token,
      });
      expect(login.status).toBe(200);
      expect(login.json.auth).toMatchObject({
        metadata: {
          grant_type: 'urn:ibm:params:oauth:grant-type:cr-token',
          user: `iam-${PROFILE_ID}`,
        },
      });
    }
  });

  it('refuses an unlinked service account with an IAM error, and a bad token with another', async () => {
    await start();
    const unlinked = await crExchange(em.url, {
      cr_token: saToken('system:serviceaccount:team-b:reader'),
      profile_id: PROFILE_ID,
    });
    expect(unlinked.status).toBe(401);
    const body = (await unlinked.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ errorCode: 'BXNIM0446E' });
    expect(String(body.errorMessage)).toContain('team-b/reader');
    expect(body.context).toEqual(expect.objectContaining({ requestId: expect.any(String) }));

    const cases: Array<[string, string]> = [
      [
        saToken('system:serviceaccount:team-a:reader', { key: strangerKey.privateKey }),
        'signature',
      ],
      [saToken('system:serviceaccount:team-a:reader', { exp: NOW / 1000 - 600 }), 'expired'],
      [saToken('system:serviceaccount:team-a:reader', { aud: ['api'] }), 'audience'],
      [saToken('admin'), 'service account'],
    ];
    for (const [cr, words] of cases) {
      const res = await crExchange(em.url, { cr_token: cr, profile_id: PROFILE_ID });
      expect(res.status).toBe(400);
      const err = (await res.json()) as Record<string, unknown>;
      expect(err.errorCode).toBe('BXNIM0407E');
      expect(String(err.errorMessage)).toContain(words);
    }
  });

  it('names what is missing and refuses an unknown profile', async () => {
    await start();
    const cr = saToken('system:serviceaccount:team-a:reader');
    const noProfile = await crExchange(em.url, { cr_token: cr });
    expect(await noProfile.json()).toMatchObject({ errorCode: 'BXNIM0109E' });
    const noAccount = await crExchange(em.url, { cr_token: cr, profile_name: 'reader' });
    expect(await noAccount.json()).toMatchObject({ errorCode: 'BXNIM0109E' });
    const noToken = await crExchange(em.url, { profile_id: PROFILE_ID });
    expect(await noToken.json()).toMatchObject({ errorCode: 'BXNIM0109E' });
    const unknown = await crExchange(em.url, { cr_token: cr, profile_id: 'Profile-nope' });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ errorCode: 'BXNIM0445E' });
    expect(em.counters()).toMatchObject({ iamTokenExchanges: 4, iamTokenExchangeFailures: 4 });
  });
});
