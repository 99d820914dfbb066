// PEM helpers for templates: pick blocks out of a bundle, tell the leaf from its chain, build a
// full chain. Certificates are parsed with node:crypto only to compare subjects and issuers.
import { X509Certificate } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g;

export interface PemBlock {
  type: string;
  text: string;
}

export function pemBlocks(bundle: string): PemBlock[] {
  const out: PemBlock[] = [];
  for (const match of bundle.matchAll(BLOCK)) {
    out.push({ type: match[1] as string, text: match[0] });
  }
  return out;
}

export function joinPem(blocks: readonly string[]): string {
  return blocks.length === 0 ? '' : `${blocks.join('\n')}\n`;
}

/** Every block of `type` (e.g. CERTIFICATE), in order. */
export function filterPem(bundle: string, type: string): string {
  return joinPem(
    pemBlocks(bundle)
      .filter((b) => b.type === type)
      .map((b) => b.text),
  );
}

function certificates(bundle: string): string[] {
  return pemBlocks(bundle)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => b.text);
}

function parse(pem: string): X509Certificate | undefined {
  try {
    return new X509Certificate(pem);
  } catch {
    return undefined;
  }
}

/** Bundles longer than this are taken in their order (comparing them all is quadratic). */
const MAX_SORTED = 32;

/**
 * The index of the leaf: the certificate that issued none of the others (the first one when
 * that does not single one out, as bundles list the leaf first).
 */
function leafIndex(certs: readonly string[]): number {
  if (certs.length > MAX_SORTED) return 0;
  const parsed = certs.map(parse);
  const issuers = new Set<number>();
  parsed.forEach((cert, i) => {
    parsed.forEach((other, j) => {
      if (i !== j && cert && other && other.issuer === cert.subject && other.checkIssued(cert)) {
        issuers.add(i);
      }
    });
  });
  const leaves = certs.map((_, i) => i).filter((i) => !issuers.has(i));
  return leaves.length === 1 ? (leaves[0] as number) : 0;
}

/** The leaf certificate of a bundle, or "" when it has none. */
export function pemLeaf(bundle: string): string {
  const certs = certificates(bundle);
  return certs.length === 0 ? '' : joinPem([certs[leafIndex(certs)] as string]);
}

/** Every certificate of a bundle except the leaf, in bundle order. */
export function pemChain(bundle: string): string {
  const certs = certificates(bundle);
  if (certs.length === 0) return '';
  const leaf = leafIndex(certs);
  return joinPem(certs.filter((_, i) => i !== leaf));
}

/** The first private key block (PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY, …). */
export function pemPrivateKey(bundle: string): string {
  const key = pemBlocks(bundle).find((b) => b.type.endsWith('PRIVATE KEY'));
  return key ? joinPem([key.text]) : '';
}

function selfSigned(pem: string): boolean {
  const cert = parse(pem);
  return cert !== undefined && cert.subject === cert.issuer && cert.checkIssued(cert);
}

/**
 * The certificate followed by the intermediates (each bundle may hold several), without
 * duplicates and without self-signed roots, which clients must already trust.
 */
export function pemFullChain(certificate: string, intermediates: string): string {
  const leaf = pemLeaf(certificate);
  const seen = new Set<string>();
  const out: string[] = [];
  const add = (pem: string) => {
    const key = pem.replace(/\s+/g, '');
    if (seen.has(key)) return;
    seen.add(key);
    out.push(pem);
  };
  if (leaf) add(leaf.trim());
  for (const pem of [...certificates(certificate), ...certificates(intermediates)]) {
    if (!selfSigned(pem)) add(pem);
  }
  return joinPem(out);
}
