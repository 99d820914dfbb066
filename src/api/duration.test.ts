import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, parseDuration, tryParseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['1h', 3_600_000],
    ['15m30s', 930_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['90s', 90_000],
    ['250ms', 250],
    ['1m500ms', 60_500],
    ['2160h', 7_776_000_000],
  ])('reads %s as %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    '',
    ' 1h',
    '1h ',
    '1d',
    '-1h',
    '+1h',
    '1',
    'h',
    '1hm',
    'banana',
    '1m-1s',
    '1.h',
    '.5h',
    '1us',
    '1H',
  ])('rejects %j with a message that says what a duration looks like', (text) => {
    const result = tryParseDuration(text);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(/"1h", "15m30s"/);
    expect(() => parseDuration(text)).toThrow(DurationError);
  });

  it('gives errors a stable code', () => {
    try {
      parseDuration('soon');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DurationError);
      expect((error as DurationError).code).toBe('InvalidDuration');
    }
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [250, '250ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [3_600_000, '1h'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 61_001, 86_400_000, 7_776_000_000]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
