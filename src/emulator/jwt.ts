// Verifying a Kubernetes service-account token as IAM does for the cr-token grant: a JWS compact
// token signed RS256 or ES256 by the cluster's service-account issuer, checked against its
// public keys (a PEM file such as the API server's --service-account-key-file, or its JWKS from
// /openid/v1/jwks), its expiry and its audience. node:crypto only.
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

export interface VerificationKey {
  /** The JWKS `kid`; a PEM key has none and is tried for every token. */
  kid?: string;
  key: KeyObject;
}

export type JwtFailure =
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'expired'
  | 'notYetValid'
  | 'audience'
  | 'issuer';

export class JwtError extends Error {
  readonly reason: JwtFailure;
  constructor(reason: JwtFailure, message: string) {
    super(message);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

export interface JwtClaims {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  [claim: string]: unknown;
}

/** Allowed clock skew, in seconds, for exp and nbf. */
const LEEWAY_SECONDS = 30;

/**
 * Parses verification keys from text: a JWKS (`{"keys": [...]}`), a single JWK, or one or more
 * PEM public keys (or certificates) one after another.
 */
export function parseVerificationKeys(text: string): VerificationKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as { keys?: unknown };
    const jwks = Array.isArray(parsed.keys) ? parsed.keys : [parsed];
    return jwks.map((jwk) => {
      const k = jwk as JsonWebKey & { kid?: string };
      const key = createPublicKey({ key: k, format: 'jwk' });
      return typeof k.kid === 'string' ? { kid: k.kid, key } : { key };
    });
  }
  const blocks = trimmed.match(
    /-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY|CERTIFICATE)-----[\s\S]+?-----END \1-----/g,
  );
  if (!blocks || blocks.length === 0) {
    throw new Error('no PEM public key, certificate or JWKS found');
  }
  return blocks.map((pem) => ({ key: createPublicKey(pem) }));
}

function decodePart(part: string, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
  } catch {
    // reported below
  }
  throw new JwtError('malformed', `the token's ${what} is not a base64url JSON object`);
}

const ALGORITHMS = {
  RS256: { keyType: 'rsa', dsaEncoding: undefined },
  ES256: { keyType: 'ec', dsaEncoding: 'ieee-p1363' },
} as const;

/**
 * Verifies the token and returns its claims; throws JwtError naming the first check that failed.
 * `now` is in milliseconds.
 */
export function verifyJwt(
  token: string,
  o: { keys: readonly VerificationKey[]; now: number; audience: string; issuer?: string },
): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p)) || !parts[2]) {
    throw new JwtError('malformed', 'the token is not a signed JWT (header.payload.signature)');
  }
  const [h, p, s] = parts as [string, string, string];
  const header = decodePart(h, 'header');
  const claims = decodePart(p, 'payload') as JwtClaims;
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'ES256') {
    throw new JwtError('algorithm', `the token's algorithm ${String(alg)} is not RS256 or ES256`);
  }
  const { keyType, dsaEncoding } = ALGORITHMS[alg];
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const candidates = o.keys.filter(
    (k) =>
      k.key.asymmetricKeyType === keyType &&
      (k.kid === undefined || kid === undefined || k.kid === kid),
  );
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(s, 'base64url');
  const valid = candidates.some((k) => {
    try {
      return verify('sha256', data, dsaEncoding ? { key: k.key, dsaEncoding } : k.key, signature);
    } catch {
      return false;
    }
  });
  if (!valid) {
    throw new JwtError('signature', "the token's signature does not match the issuer's keys");
  }
  const nowSeconds = o.now / 1000;
  if (typeof claims.exp !== 'number' || claims.exp + LEEWAY_SECONDS <= nowSeconds) {
    throw new JwtError('expired', 'the token has expired');
  }
  if (typeof claims.nbf === 'number' && claims.nbf - LEEWAY_SECONDS > nowSeconds) {
    throw new JwtError('notYetValid', 'the token is not valid yet');
  }
  const audiences = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (!Array.isArray(audiences) || !audiences.includes(o.audience)) {
    throw new JwtError('audience', `the token's audience is not ${o.audience}`);
  }
  if (o.issuer !== undefined && claims.iss !== o.issuer) {
    throw new JwtError('issuer', `the token's issuer is not ${o.issuer}`);
  }
  return claims;
}
