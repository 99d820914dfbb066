import {
  createPrivateKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';

// A minimal DER writer: just enough ASN.1 to issue real X.509 v3 certificates, so the PEM the
// emulator hands out parses, matches its private key and carries the reported serial and dates.

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer =>
  Buffer.concat([Buffer.from([tag]), len(body.length), body]);
const seq = (...items: Buffer[]): Buffer => tlv(0x30, Buffer.concat(items));
const set = (...items: Buffer[]): Buffer => tlv(0x31, Buffer.concat(items));
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
const ctx = (n: number, body: Buffer, constructed = true): Buffer =>
  tlv((constructed ? 0xa0 : 0x80) | n, body);

function oid(dotted: string): Buffer {
  const parts = dotted.split('.').map(Number);
  const out = [40 * parts[0]! + parts[1]!];
  for (const p of parts.slice(2)) {
    const chunk: number[] = [];
    for (let v = p; ; v = Math.floor(v / 128)) {
      chunk.unshift((v & 0x7f) | (chunk.length ? 0x80 : 0));
      if (v < 128) break;
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}

function time(ms: number): Buffer {
  const iso = new Date(ms).toISOString();
  const year = Number(iso.slice(0, 4));
  const compact = `${iso.slice(0, 19).replace(/[-:T]/g, '')}Z`;
  // UTCTime until 2049, GeneralizedTime after, as RFC 5280 requires.
  return year < 2050 ? tlv(0x17, Buffer.from(compact.slice(2))) : tlv(0x18, Buffer.from(compact));
}

const name = (cn: string): Buffer => seq(set(seq(oid('2.5.4.3'), utf8(cn))));
const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

export interface IssuedCertificate {
  certificatePem: string;
  privateKeyPem: string;
  serialHex: string;
}

export interface Issuer {
  commonName: string;
  key: KeyObject;
}

/** An EC P-256 certificate for `commonName` (+ DNS SANs), signed by `issuer` or self-signed. */
export function issueX509(opts: {
  commonName: string;
  altNames: string[];
  notBefore: number;
  notAfter: number;
  issuer?: Issuer;
  ca?: boolean;
}): IssuedCertificate {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const serial = randomBytes(16);
  serial[0]! &= 0x7f; // positive INTEGER
  const extensions: Buffer[] = [];
  if (opts.altNames.length > 0) {
    const sans = seq(...opts.altNames.map((n) => ctx(2, Buffer.from(n), false)));
    extensions.push(seq(oid('2.5.29.17'), tlv(0x04, sans)));
  }
  if (opts.ca) {
    extensions.push(
      seq(
        oid('2.5.29.19'),
        tlv(0x01, Buffer.from([0xff])),
        tlv(0x04, seq(tlv(0x01, Buffer.from([0xff])))),
      ),
    );
  }
  const tbs = seq(
    ctx(0, tlv(0x02, Buffer.from([2]))),
    tlv(0x02, serial),
    ECDSA_SHA256,
    name(opts.issuer?.commonName ?? opts.commonName),
    seq(time(opts.notBefore), time(opts.notAfter)),
    name(opts.commonName),
    publicKey.export({ type: 'spki', format: 'der' }),
    ...(extensions.length ? [ctx(3, seq(...extensions))] : []),
  );
  const signature = sign('sha256', tbs, opts.issuer?.key ?? privateKey);
  const cert = seq(tbs, ECDSA_SHA256, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  return {
    certificatePem: pem('CERTIFICATE', cert),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    serialHex: serial.toString('hex'),
  };
}

export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Self-signed CAs by name, made once per process (issuing from one is then ~1 ms). */
const authorities = new Map<string, { issuer: Issuer; certificatePem: string }>();

export function certificateAuthority(commonName: string): {
  issuer: Issuer;
  certificatePem: string;
} {
  let ca = authorities.get(commonName);
  if (!ca) {
    const now = Date.now();
    const made = issueX509({
      commonName,
      altNames: [],
      notBefore: now - 86400_000,
      notAfter: now + 10 * 365 * 86400_000,
      ca: true,
    });
    ca = {
      issuer: { commonName, key: createPrivateKey(made.privateKeyPem) },
      certificatePem: made.certificatePem,
    };
    authorities.set(commonName, ca);
  }
  return ca;
}
