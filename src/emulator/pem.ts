import { randomBytes, X509Certificate } from 'node:crypto';
import { rfc3339 } from './util.ts';
import { certificateAuthority, issueX509 } from './x509.ts';

/** A PEM block of random DER-looking bytes: looks like a certificate or key, is neither. */
export function fakePem(label: string, size = 600): string {
  const der = Buffer.concat([
    Buffer.from([0x30, 0x82, (size >> 8) & 0xff, size & 0xff]),
    randomBytes(size),
  ]);
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').trimEnd();
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface CertificateInfo {
  common_name: string;
  issuer: string;
  serial_number: string;
  algorithm: string;
  key_algorithm: string;
  validity: { not_before: string; not_after: string };
  alt_names: string[];
}

export function randomSerial(): string {
  return (randomBytes(8).toString('hex').match(/../g) ?? []).join(':');
}

/**
 * What the service reports about an imported certificate. A real PEM certificate is parsed;
 * anything else (the documented examples are truncated) gets plausible defaults.
 */
export function certificateInfo(pem: string, now: number): CertificateInfo {
  try {
    const cert = new X509Certificate(pem);
    const cn = /CN=([^\n,]+)/.exec(cert.subject)?.[1] ?? '';
    const keyType = cert.publicKey.asymmetricKeyType ?? 'rsa';
    const rsa = keyType === 'rsa' || keyType === 'rsa-pss';
    return {
      common_name: cn,
      issuer: cert.issuer
        .split('\n')
        .map((p) => p.replace(/^[A-Z]+=/, ''))
        .join(' '),
      serial_number: (cert.serialNumber.toLowerCase().match(/../g) ?? []).join(':'),
      algorithm: rsa ? 'RSA' : 'ECDSA',
      key_algorithm: rsa ? 'SHA256-RSA' : 'SHA256-ECDSA',
      validity: {
        not_before: rfc3339(Date.parse(cert.validFrom)),
        not_after: rfc3339(Date.parse(cert.validTo)),
      },
      alt_names: (cert.subjectAltName ?? '')
        .split(', ')
        .filter((s) => s.startsWith('DNS:'))
        .map((s) => s.slice(4)),
    };
  } catch {
    return {
      common_name: 'example.com',
      issuer: 'Secrets Manager Emulator CA',
      serial_number: randomSerial(),
      algorithm: 'RSA',
      key_algorithm: 'SHA256-RSA',
      validity: { not_before: rfc3339(now), not_after: rfc3339(now + 90 * 86400_000) },
      alt_names: [],
    };
  }
}

/**
 * A real certificate (EC P-256) for public_cert and private_cert secrets, signed by a
 * self-signed CA named after the configured issuer; `intermediate` is that CA's certificate.
 */
export function issueCertificate(opts: {
  commonName: string;
  altNames: string[];
  issuer: string;
  ttlSeconds: number;
  now: number;
}): { certificate: string; private_key: string; intermediate: string; info: CertificateInfo } {
  const ca = certificateAuthority(opts.issuer);
  const notAfter = opts.now + opts.ttlSeconds * 1000;
  const cert = issueX509({
    commonName: opts.commonName,
    altNames: [opts.commonName, ...opts.altNames.filter((n) => n !== opts.commonName)],
    notBefore: opts.now,
    notAfter,
    issuer: ca.issuer,
  });
  return {
    certificate: cert.certificatePem,
    private_key: cert.privateKeyPem,
    intermediate: ca.certificatePem,
    info: {
      common_name: opts.commonName,
      issuer: opts.issuer,
      serial_number: (cert.serialHex.match(/../g) ?? []).join(':'),
      algorithm: 'ECDSA',
      key_algorithm: 'SHA256-ECDSA',
      validity: { not_before: rfc3339(opts.now), not_after: rfc3339(notAfter) },
      alt_names: opts.altNames,
    },
  };
}
