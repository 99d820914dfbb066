import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** Milliseconds since the epoch; every expiry in the emulator reads time through one of these. */
export type Clock = () => number;

export const newId = (): string => randomUUID();

const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A random string over an alphabet; used for tokens and API keys (never for anything guessable). */
export function randomString(length: number, alphabet = BASE62): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i]! % alphabet.length];
  return out;
}

/** A UUID-shaped id derived from a string, so the same API key always maps to the same IAM ID. */
export function stableUuid(seed: string): string {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s).digest('hex');

/** RFC 3339 without fractional seconds, as the documented responses print dates. */
export function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/**
 * Parses a TTL as the API accepts it: an integer number of seconds (number or string) or a
 * duration such as `30m`, `12h`, `90d` or `1h30m`. Returns undefined when it is not one.
 */
export function parseDurationSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const s = value.trim();
  if (/^\d+$/.test(s)) return Number(s);
  const re = /(\d+)([smhd])/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
    consumed = re.lastIndex;
  }
  return consumed === s.length && s.length > 0 ? total : undefined;
}

/** Go's time.Duration formatting (`2h0m0s`, `30m0s`, `45s`), which Vault uses in its config reads. */
export function formatGoDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h}h${m}m${s}s`;
  if (m > 0) return `${m}m${s}s`;
  return `${s}s`;
}

export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms));

/** Shortens a secret-bearing string for echoing in a response, as the service does. */
export function redact(value: string): string {
  return `${value.slice(0, 12)}...(redacted)`;
}
