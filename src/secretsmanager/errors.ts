/**
 * Typed errors of the Secrets Manager client. Every error has a stable `code` that controllers
 * branch on; messages say what to do. No error ever carries secret material: messages are built
 * from safe parts (operation, status, error codes) and any text that comes from the server is
 * scrubbed of the store's API key and tokens before it is kept.
 */

export const ERROR_CODES = [
  'NotFound',
  'Forbidden',
  'Unauthenticated',
  'RateLimited',
  'Unavailable',
  'InvalidResponse',
  'InvalidRequest',
  'Timeout',
  /** The caller gave up (its signal aborted: shutdown, lost leadership). Not retried. */
  'Aborted',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface SecretsManagerErrorOptions {
  status?: number;
  retryable?: boolean;
  retryAfterMs?: number;
  operation?: string;
  /** The request certainly never reached the server (connection refused, DNS failure). */
  notSent?: boolean;
  cause?: SafeCause;
}

/** What is kept of an underlying error: its name, code and a scrubbed message, nothing else. */
export interface SafeCause {
  name: string;
  code?: string;
  message: string;
}

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set([
  'RateLimited',
  'Unavailable',
  'Timeout',
]);

/** The error of a call whose caller's signal aborted; the request may or may not have been sent. */
export function abortedError(operation: string): SecretsManagerError {
  return new SecretsManagerError(
    'Aborted',
    `${operation}: cancelled by the caller (shutdown or lost leadership)`,
    { operation, retryable: false },
  );
}

export class SecretsManagerError extends Error {
  override readonly name = 'SecretsManagerError';
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;
  readonly operation: string | undefined;
  readonly notSent: boolean;
  override readonly cause: SafeCause | undefined;

  constructor(code: ErrorCode, message: string, opts: SecretsManagerErrorOptions = {}) {
    super(message);
    this.code = code;
    this.status = opts.status;
    this.retryable = opts.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.retryAfterMs = opts.retryAfterMs;
    this.operation = opts.operation;
    this.notSent = opts.notSent ?? false;
    this.cause = opts.cause;
  }

  /** A copy with some fields replaced; used to hand each waiting caller its own error. */
  with(opts: Partial<SecretsManagerErrorOptions> & { message?: string }): SecretsManagerError {
    return new SecretsManagerError(this.code, opts.message ?? this.message, {
      status: opts.status ?? this.status,
      retryable: opts.retryable ?? this.retryable,
      retryAfterMs: opts.retryAfterMs ?? this.retryAfterMs,
      operation: opts.operation ?? this.operation,
      notSent: opts.notSent ?? this.notSent,
      cause: opts.cause ?? this.cause,
    });
  }

  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      code: this.code,
      message: this.message,
      status: this.status,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      operation: this.operation,
      notSent: this.notSent,
      cause: this.cause,
    };
  }
}

export function isSecretsManagerError(e: unknown): e is SecretsManagerError {
  return e instanceof SecretsManagerError;
}

function hasCode(code: ErrorCode) {
  return (e: unknown): e is SecretsManagerError => isSecretsManagerError(e) && e.code === code;
}

export const isNotFound = hasCode('NotFound');
export const isForbidden = hasCode('Forbidden');
export const isUnauthenticated = hasCode('Unauthenticated');
export const isRateLimited = hasCode('RateLimited');
export const isUnavailable = hasCode('Unavailable');
export const isInvalidResponse = hasCode('InvalidResponse');
export const isInvalidRequest = hasCode('InvalidRequest');
export const isTimeout = hasCode('Timeout');

/** True when trying again later may succeed (429, 5xx, network, timeouts). */
export function isRetryable(e: unknown): boolean {
  return isSecretsManagerError(e) && e.retryable;
}

const REDACTED = '[REDACTED]';

/**
 * Removes every known secret string from a text. Secrets shorter than 4 characters are ignored
 * (they would shred ordinary words and cannot be meaningful keys or tokens).
 */
export function scrub(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join(REDACTED);
  }
  return out;
}

const MAX_SERVER_TEXT = 300;

/** Server-provided text, scrubbed and bounded, for inclusion in a message. */
export function safeServerText(text: string, secrets: Iterable<string | undefined>): string {
  const oneLine = scrub(text, secrets).replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_SERVER_TEXT ? `${oneLine.slice(0, MAX_SERVER_TEXT)}...` : oneLine;
}

/** Reduces any thrown value to a SafeCause with a scrubbed message. */
export function safeCause(e: unknown, secrets: Iterable<string | undefined>): SafeCause {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      name: e.name,
      ...(typeof code === 'string' ? { code } : {}),
      message: safeServerText(e.message, secrets),
    };
  }
  return { name: 'Error', message: 'non-error value thrown' };
}
