// decodingStrategy: how a value read from Secrets Manager becomes the bytes of a Secret key.
// Messages name the strategy, never the value.
import type { DecodingStrategy } from '../../api/index.ts';
import type { SecretValue } from '../shared/secrets.ts';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;

export type Decoded = { ok: true; value: SecretValue } | { ok: false; message: string };

/**
 * `None` (or unset): the text as it is. `Base64`: the standard alphabet, padded; `Base64URL`:
 * the URL-safe alphabet, padding optional; both ignore line breaks (as in PEM-style wrapping).
 * `Auto`: Base64, else Base64URL, else the text as it is.
 */
export function decodeValue(value: string, strategy: DecodingStrategy | undefined): Decoded {
  switch (strategy ?? 'None') {
    case 'None':
      return { ok: true, value };
    case 'Base64':
      return orFailure(base64(value), 'Base64');
    case 'Base64URL':
      return orFailure(base64url(value), 'Base64URL');
    case 'Auto':
      return { ok: true, value: base64(value) ?? base64url(value) ?? value };
  }
  return { ok: true, value };
}

function orFailure(bytes: Buffer | undefined, strategy: string): Decoded {
  return bytes
    ? { ok: true, value: bytes }
    : { ok: false, message: `is not valid ${strategy} (decodingStrategy ${strategy})` };
}

function base64(value: string): Buffer | undefined {
  const text = value.replace(/\s+/g, '');
  if (text.length % 4 !== 0 || !BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

function base64url(value: string): Buffer | undefined {
  const text = value.replace(/\s+/g, '');
  if (text.length % 4 === 1 || !BASE64URL.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (text.length !== unpadded.length && text.length % 4 !== 0) return undefined;
  return Buffer.from(unpadded, 'base64url');
}
