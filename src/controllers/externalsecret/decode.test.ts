import { describe, expect, it } from 'vitest';
import { decodeValue } from './decode.ts';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function bytes(result: ReturnType<typeof decodeValue>): Buffer {
  if (!result.ok) throw new Error(result.message);
  if (typeof result.value === 'string') throw new Error('not decoded');
  return Buffer.from(result.value);
}

describe('decodeValue', () => {
  it('None (and unset) keeps the text as it is', () => {
    expect(decodeValue('aGVsbG8=', 'None')).toEqual({ ok: true, value: 'aGVsbG8=' });
    expect(decodeValue('aGVsbG8=', undefined)).toEqual({ ok: true, value: 'aGVsbG8=' });
  });

  it('Base64 gives back every byte exactly, line breaks ignored', () => {
    const wrapped = ALL_BYTES.toString('base64').replace(/(.{64})/g, '$1\n');
    expect(bytes(decodeValue(wrapped, 'Base64')).equals(ALL_BYTES)).toBe(true);
  });

  it('Base64 refuses the URL-safe alphabet, bad padding and other text, naming no value', () => {
    for (const bad of [ALL_BYTES.toString('base64url'), 'abc', 'a=bc', 'p@ssword!']) {
      const result = decodeValue(bad, 'Base64');
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.message).toBe('is not valid Base64 (decodingStrategy Base64)');
        expect(result.message).not.toContain(bad);
      }
    }
  });

  it('Base64URL takes the URL-safe alphabet with or without padding', () => {
    const url = ALL_BYTES.toString('base64url');
    expect(bytes(decodeValue(url, 'Base64URL')).equals(ALL_BYTES)).toBe(true);
    expect(bytes(decodeValue(`${Buffer.from('ab').toString('base64url')}=`, 'Base64URL'))).toEqual(
      Buffer.from('ab'),
    );
    expect(decodeValue('a+b/', 'Base64URL').ok).toBe(false);
    expect(decodeValue('abcde', 'Base64URL').ok).toBe(false);
  });

  it('Auto decodes Base64, then Base64URL, and otherwise keeps the text', () => {
    expect(bytes(decodeValue(ALL_BYTES.toString('base64'), 'Auto')).equals(ALL_BYTES)).toBe(true);
    expect(bytes(decodeValue(ALL_BYTES.toString('base64url'), 'Auto')).equals(ALL_BYTES)).toBe(
      true,
    );
    expect(decodeValue('not base64!', 'Auto')).toEqual({ ok: true, value: 'not base64!' });
  });
});
