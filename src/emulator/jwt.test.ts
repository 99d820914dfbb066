import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JwtError, parseVerificationKeys, verifyJwt } from './jwt.ts';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherRsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A service-account token as the API server signs one. */
function token(
  claims: Record<string, unknown>,
  o: { alg?: 'RS256' | 'ES256'; key?: KeyObject; kid?: string } = {},
): string {
  const alg = o.alg ?? 'RS256';
  const key = o.key ?? (alg === 'RS256' ? rsa.privateKey : ec.privateKey);
  const head = `${b64({ alg, ...(o.kid ? { kid: o.kid } : {}) })}.${b64({
    iss: 'https://kubernetes.default.svc.cluster.local',
    sub: 'system:serviceaccount:team-a:reader',
    aud: ['iam'],
    iat: NOW / 1000 - 60,
    nbf: NOW / 1000 - 60,
    exp: NOW / 1000 + 600,
    ...claims,
  })}`;
  const sig = sign(
    'sha256',
    Buffer.from(head),
    alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
  );
  return `${head}.${sig.toString('base64url')}`;
}

const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();
const keys = parseVerificationKeys(pem(rsa.publicKey) + pem(ec.publicKey));

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof JwtError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('service-account token verification', () => {
  it('accepts RS256 and ES256 tokens signed by a configured key and returns the claims', () => {
    const rs = verifyJwt(token({}), { keys, now: NOW, audience: 'iam' });
    expect(rs.sub).toBe('system:serviceaccount:team-a:reader');
    const es = verifyJwt(token({}, { alg: 'ES256' }), { keys, now: NOW, audience: 'iam' });
    expect(es.sub).toBe('system:serviceaccount:team-a:reader');
  });

  it('refuses a tampered payload, a foreign key and a stripped signature', () => {
    const good = token({});
    const [h, , s] = good.split('.');
    const forged = `${h}.${b64({ sub: 'system:serviceaccount:kube-system:admin', aud: 'iam', exp: NOW / 1000 + 600 })}.${s}`;
    expect(failure(() => verifyJwt(forged, { keys, now: NOW, audience: 'iam' }))).toBe('signature');
    const foreign = token({}, { key: otherRsa.privateKey });
    expect(failure(() => verifyJwt(foreign, { keys, now: NOW, audience: 'iam' }))).toBe(
      'signature',
    );
    expect(
      failure(() => verifyJwt(`${h}.${good.split('.')[1]}.`, { keys, now: NOW, audience: 'iam' })),
    ).toBe('malformed');
    const none = `${b64({ alg: 'none' })}.${good.split('.')[1]}.${s}`;
    expect(failure(() => verifyJwt(none, { keys, now: NOW, audience: 'iam' }))).toBe('algorithm');
  });

  it('refuses an expired token, and one not valid yet', () => {
    const expired = token({ exp: NOW / 1000 - 120 });
    expect(failure(() => verifyJwt(expired, { keys, now: NOW, audience: 'iam' }))).toBe('expired');
    const noExp = token({ exp: undefined });
    expect(failure(() => verifyJwt(noExp, { keys, now: NOW, audience: 'iam' }))).toBe('expired');
    const future = token({ nbf: NOW / 1000 + 600 });
    expect(failure(() => verifyJwt(future, { keys, now: NOW, audience: 'iam' }))).toBe(
      'notYetValid',
    );
  });

  it('refuses a token for another audience or from another issuer', () => {
    const api = token({ aud: ['https://kubernetes.default.svc.cluster.local'] });
    expect(failure(() => verifyJwt(api, { keys, now: NOW, audience: 'iam' }))).toBe('audience');
    expect(
      failure(() => verifyJwt(token({ aud: 'iam' }), { keys, now: NOW, audience: 'iam' })),
    ).toBe('accepted');
    expect(
      failure(() =>
        verifyJwt(token({}), { keys, now: NOW, audience: 'iam', issuer: 'https://other.example' }),
      ),
    ).toBe('issuer');
  });

  it('reads a JWKS and picks the key by kid', () => {
    const jwk = { ...rsa.publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig', alg: 'RS256' };
    const other = { ...otherRsa.publicKey.export({ format: 'jwk' }), kid: 'k2' };
    const jwks = parseVerificationKeys(JSON.stringify({ keys: [other, jwk] }));
    expect(jwks.map((k) => k.kid)).toEqual(['k2', 'k1']);
    expect(verifyJwt(token({}, { kid: 'k1' }), { keys: jwks, now: NOW, audience: 'iam' }).sub).toBe(
      'system:serviceaccount:team-a:reader',
    );
    // Signed by k1's key but claiming k2: only k2 is tried.
    expect(
      failure(() => verifyJwt(token({}, { kid: 'k2' }), { keys: jwks, now: NOW, audience: 'iam' })),
    ).toBe('signature');
  });
});
