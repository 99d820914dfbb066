import { z } from 'zod';
import { celString, withRules } from './rules.ts';

/**
 * Go-style durations (`1h`, `15m30s`, `1.5h`, `250ms`, `0`), a subset of Go's
 * `time.ParseDuration` and therefore of CEL's `duration()`: the API server and this module
 * accept exactly the same strings. No sign, no `us`/`ns` (nothing here runs that fast), no
 * days (Go has none, and `kubectl` users expect Go's units).
 */
export const DURATION_PATTERN = '^(0|([0-9]+(\\.[0-9]+)?(h|ms|m|s))+)$';
const DURATION_RE = new RegExp(DURATION_PATTERN);
const TERM_RE = /([0-9]+(?:\.[0-9]+)?)(h|ms|m|s)/g;

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;

export type DurationResult = { ok: true; value: number } | { ok: false; message: string };

/** Parses a Go-style duration into milliseconds (rounded to a whole millisecond). */
export function tryParseDuration(text: string): DurationResult {
  if (!DURATION_RE.test(text)) {
    return {
      ok: false,
      message: 'must be a duration such as "1h", "15m30s" or "90s" (units h, m, s, ms) or "0"',
    };
  }
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(TERM_RE)) {
    ms += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) {
    return { ok: false, message: 'is too long a duration' };
  }
  return { ok: true, value: Math.round(ms) };
}

export class DurationError extends Error {
  readonly code = 'InvalidDuration';
  override name = 'DurationError';
}

/**
 * Parses a Go-style duration into milliseconds; throws `DurationError` on anything else.
 * Fields of parsed resources are already validated, so controllers can call this directly.
 */
export function parseDuration(text: string): number {
  const result = tryParseDuration(text);
  if (!result.ok) throw new DurationError(`duration ${result.message}`);
  return result.value;
}

/** Formats milliseconds the way Go prints durations, without zero parts: `1h30m`, `45s`, `0s`. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of Object.entries(UNIT_MS)) {
    const amount = Math.floor(rest / size);
    if (amount > 0) out += `${amount}${unit}`;
    rest -= amount * size;
  }
  return out;
}

export interface DurationFieldOptions {
  /** Whether `0` is accepted (it means "once" or "immediately" where allowed). */
  allowZero: boolean;
  /** The smallest non-zero value accepted, as a duration string such as `1s`. */
  min?: string;
}

/**
 * A duration string field. The pattern is checked by both the API server and zod; a minimum
 * becomes a CEL rule (guarded by the pattern, so a malformed value reports the pattern error
 * rather than a CEL evaluation error).
 */
export function durationField(options: DurationFieldOptions) {
  const base = z.string().max(64).regex(DURATION_RE, {
    error: 'must be a duration such as "1h", "15m30s" or "90s" (units h, m, s, ms)',
  });
  const guard = `!self.matches(${celString(DURATION_PATTERN)})`;
  const rules = [];
  if (options.min !== undefined) {
    const min = options.min;
    const minMs = parseDuration(min);
    const zero = options.allowZero ? " || duration(self) == duration('0s')" : '';
    rules.push({
      cel: `${guard}${zero} || duration(self) >= duration('${min}')`,
      message: options.allowZero ? `must be 0 or at least ${min}` : `must be at least ${min}`,
      holds: (value: string) => {
        const parsed = tryParseDuration(value);
        return !parsed.ok || (options.allowZero && parsed.value === 0) || parsed.value >= minMs;
      },
    });
  } else if (!options.allowZero) {
    rules.push({
      cel: `${guard} || duration(self) > duration('0s')`,
      message: 'must be greater than 0',
      holds: (value: string) => {
        const parsed = tryParseDuration(value);
        return !parsed.ok || parsed.value > 0;
      },
    });
  }
  return withRules(base, rules);
}
