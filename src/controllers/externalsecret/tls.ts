// A certificate secret as the keys of a kubernetes.io/tls Secret: `tls.crt` is the certificate
// followed by the intermediates that chain it (never a self-signed root, which clients must
// already trust), `tls.key` its private key, and `ca.crt` the CA material the secret carries.
import { X509Certificate } from 'node:crypto';
import type { RemoteSecret } from '../../secretsmanager/index.ts';

export const TLS_SECRET_TYPE = 'kubernetes.io/tls';

type CertificateSecret = Extract<
  RemoteSecret,
  { type: 'imported_cert' | 'public_cert' | 'private_cert' }
>;

export function isCertificateSecret(secret: RemoteSecret): secret is CertificateSecret {
  return (
    secret.type === 'imported_cert' ||
    secret.type === 'public_cert' ||
    secret.type === 'private_cert'
  );
}

/** The keys, or why the secret cannot make a TLS Secret (names only, never material). */
export function tlsEntries(
  secret: CertificateSecret,
): { ok: true; data: Record<string, string> } | { ok: false; message: string } {
  if (!secret.privateKey) {
    return {
      ok: false,
      message: `has no private key, which a ${TLS_SECRET_TYPE} Secret needs (tls.key)`,
    };
  }
  const ca = [secret.intermediate ?? '', ...(secret.caChain ?? []), secret.issuingCa ?? '']
    .flatMap(splitPem)
    .filter(unique());
  const chain = ca.filter((pem) => !isSelfSigned(pem));
  const caCert = secret.issuingCa ?? secret.caChain?.at(-1) ?? secret.intermediate;
  return {
    ok: true,
    data: {
      'tls.crt': [secret.certificate.trim(), ...chain].join('\n'),
      'tls.key': secret.privateKey,
      ...(caCert ? { 'ca.crt': caCert } : {}),
    },
  };
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function splitPem(bundle: string): string[] {
  return bundle.match(PEM_BLOCK) ?? [];
}

function unique(): (pem: string) => boolean {
  const seen = new Set<string>();
  return (pem) => {
    const key = pem.replace(/\s+/g, '');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
}

/** A root: issued by itself. A certificate that does not parse is kept (the server sent it). */
function isSelfSigned(pem: string): boolean {
  try {
    const cert = new X509Certificate(pem);
    return cert.subject === cert.issuer && cert.checkIssued(cert);
  } catch {
    return false;
  }
}
