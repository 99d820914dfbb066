import { createRequire } from 'node:module';
import { z } from 'zod';

type CronParser = typeof import('cron-parser').CronExpressionParser;
let parser: CronParser | undefined;

/**
 * cron-parser, loaded at the first schedule to check: with luxon, which it needs, about 5 MiB of
 * RSS that an operator whose resources have no refreshSchedule never pays.
 */
function cron(): CronParser {
  parser ??= (createRequire(import.meta.url)('cron-parser') as typeof import('cron-parser'))
    .CronExpressionParser;
  return parser;
}

/**
 * Refresh schedules are standard 5-field cron expressions (minute resolution) or one of the
 * common macros, evaluated in UTC. Seconds fields and @secondly are refused: a sync per second
 * is a denial of service on Secrets Manager, not a schedule.
 */
const MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly'] as const;

/** A coarse shape check the API server can run; cron-parser does the real validation. */
export const SCHEDULE_PATTERN = `^(${MACROS.join('|')}|[^\\s@]+(\\s+[^\\s@]+){4})$`;
const SCHEDULE_RE = new RegExp(SCHEDULE_PATTERN);

export type ScheduleResult = { ok: true } | { ok: false; message: string };

const SHAPE_MESSAGE =
  'must be a 5-field cron expression (minute hour day-of-month month day-of-week) or one of ' +
  MACROS.join(', ');

export function validateSchedule(expression: string): ScheduleResult {
  const trimmed = expression.trim();
  if (!SCHEDULE_RE.test(trimmed)) return { ok: false, message: SHAPE_MESSAGE };
  try {
    cron().parse(trimmed, { tz: 'UTC' });
    return { ok: true };
  } catch (error) {
    // cron-parser's messages name the offending field value, which is the user's own cron text.
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, message: `is not a valid cron expression: ${detail}` };
  }
}

export class ScheduleError extends Error {
  readonly code = 'InvalidSchedule';
  override name = 'ScheduleError';
}

export interface NextRunOptions {
  /**
   * Seed for the `H` (hashed) field value, e.g. the resource UID: `H * * * *` then runs at a
   * stable minute per resource, spreading many resources over the hour.
   */
  seed?: string;
}

/** The first time strictly after `from` that the schedule fires. Throws `ScheduleError`. */
export function nextRun(expression: string, from: Date, options: NextRunOptions = {}): Date {
  const valid = validateSchedule(expression);
  if (!valid.ok) throw new ScheduleError(`schedule ${valid.message}`);
  const parsed = cron().parse(expression.trim(), {
    currentDate: from,
    tz: 'UTC',
    ...(options.seed !== undefined ? { hashSeed: options.seed } : {}),
  });
  return parsed.next().toDate();
}

/** A schedule field: shape checked by the API server, fully parsed by zod. */
export function scheduleField() {
  return z
    .string()
    .min(1)
    .max(128)
    .regex(SCHEDULE_RE, { error: SHAPE_MESSAGE })
    .superRefine((value, ctx) => {
      const result = validateSchedule(value);
      if (!result.ok) ctx.addIssue({ code: 'custom', message: result.message });
    });
}
