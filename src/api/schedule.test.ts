import { describe, expect, it } from 'vitest';
import { nextRun, ScheduleError, validateSchedule } from './schedule.ts';

const at = (iso: string) => new Date(iso);

describe('validateSchedule', () => {
  it.each([
    '*/5 * * * *',
    '0 */6 * * *',
    '30 2 * * MON-FRI',
    '0 0 1 * *',
    '@hourly',
    '@daily',
    'H * * * *',
  ])('accepts %j', (expression) => {
    expect(validateSchedule(expression)).toEqual({ ok: true });
  });

  it.each([
    ['', /5-field cron/],
    ['* * * *', /5-field cron/],
    ['*/10 * * * * *', /5-field cron/], // seconds: a sync per second is not a schedule
    ['@secondly', /5-field cron/],
    ['@every 5m', /5-field cron/],
    ['61 * * * *', /not a valid cron expression: .*0-59/],
    ['* 25 * * *', /not a valid cron expression/],
    ['a b c d e', /not a valid cron expression/],
  ])('rejects %j', (expression, message) => {
    const result = validateSchedule(expression);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.message).toMatch(message);
  });
});

describe('nextRun', () => {
  it('returns the next firing time in UTC', () => {
    expect(nextRun('0 */6 * * *', at('2026-03-01T07:15:00Z'))).toEqual(at('2026-03-01T12:00:00Z'));
    expect(nextRun('@daily', at('2026-03-01T07:15:00Z'))).toEqual(at('2026-03-02T00:00:00Z'));
  });

  it('is strictly after `from`, so a refresh at the firing time does not fire again at once', () => {
    expect(nextRun('*/5 * * * *', at('2026-03-01T10:05:00Z'))).toEqual(at('2026-03-01T10:10:00Z'));
  });

  it('spreads H per seed and keeps it stable for one seed', () => {
    const from = at('2026-03-01T10:00:30Z');
    const minutes = new Set(
      Array.from({ length: 20 }, (_, i) =>
        nextRun('H * * * *', from, { seed: `uid-${i}` }).getUTCMinutes(),
      ),
    );
    expect(minutes.size).toBeGreaterThan(5);
    expect(nextRun('H * * * *', from, { seed: 'uid-1' })).toEqual(
      nextRun('H * * * *', from, { seed: 'uid-1' }),
    );
  });

  it('throws ScheduleError for an invalid schedule', () => {
    expect(() => nextRun('every day', at('2026-03-01T00:00:00Z'))).toThrow(ScheduleError);
  });
});
