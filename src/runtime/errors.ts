/**
 * A reconcile error that retrying cannot fix (an invalid spec, a forbidden namespace). The work
 * queue records it (metric + log) and does not requeue the key; the next change to the resource
 * enqueues it again.
 */
export class TerminalError extends Error {
  readonly code: string;

  constructor(message: string, options?: { code?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TerminalError';
    this.code = options?.code ?? 'TERMINAL';
  }
}

export function isTerminalError(err: unknown): err is TerminalError {
  return err instanceof TerminalError;
}

/**
 * An HTTP error answer of the API server: the status code and the Status `reason` and `message`,
 * never the body or headers (a Secret's data must not reach a log line through an error).
 */
export class KubeHttpError extends Error {
  /** The HTTP status. */
  readonly code: number;
  /** The Kubernetes Status `reason` (e.g. `Expired`, `Forbidden`), when the server sent one. */
  readonly reason: string | undefined;

  constructor(code: number, reason: string | undefined, message: string) {
    // An answer of the API server, not a bug: its stack would only say which request sent it,
    // and capturing one for every expected 404 and 409 costs more than the request's parsing.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = 'KubeHttpError';
    this.code = code;
    this.reason = reason;
  }

  /** The HTTP status, as `describeError` and log lines name it. */
  get status(): number {
    return this.code;
  }
}

/** What may be logged about an error: no bodies, headers or request options, ever. */
export interface SafeError {
  name: string;
  message: string;
  code?: string | number;
  /** HTTP status where the error came from an HTTP response. */
  status?: number;
  cause?: SafeError;
}

const MAX_MESSAGE = 500;

function truncate(s: string): string {
  return s.length > MAX_MESSAGE ? `${s.slice(0, MAX_MESSAGE)}...` : s;
}

/** A Kubernetes `Status` body as the API server sends it with errors. */
function statusText(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusText(JSON.parse(body));
    } catch {
      return undefined;
    }
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const { reason, message } = body as { reason?: unknown; message?: unknown };
  const parts = [reason, message].filter((p): p is string => typeof p === 'string' && p !== '');
  return parts.length > 0 ? parts.join(': ') : undefined;
}

/**
 * An error that carries a whole HTTP response (client-node's `ApiException`, which tests and
 * tools still use, puts body and headers in its message). Recognised by shape, so the runtime
 * needs no import of client-node.
 */
function carriesResponse(err: Error): err is Error & { code: number; body: unknown } {
  const e = err as { code?: unknown };
  return typeof e.code === 'number' && 'body' in err && 'headers' in err;
}

/**
 * Describes an error for a log line, a status condition or an Event without leaking anything:
 * of an error that carries an HTTP response (client-node's `ApiException`) only the HTTP code
 * and the Status reason/message are kept. Other errors keep name, message (truncated), a string
 * or numeric `code`, a numeric `status`, and one level of cause. Errors from our own clients are written so that their messages carry no secret
 * material (`KubeHttpError` holds only the Status reason and message, never a body).
 */
export function describeError(err: unknown, depth = 0): SafeError {
  if (err instanceof Error && carriesResponse(err)) {
    return {
      name: err.name === 'Error' ? err.constructor.name : err.name,
      status: err.code,
      code: err.code,
      message: truncate(statusText(err.body) ?? `Kubernetes API answered HTTP ${err.code}`),
    };
  }
  if (err instanceof Error) {
    const out: SafeError = { name: err.name, message: truncate(err.message) };
    const { code, status, statusCode } = err as {
      code?: unknown;
      status?: unknown;
      statusCode?: unknown;
    };
    if (typeof code === 'string' || typeof code === 'number') out.code = code;
    const httpStatus = typeof status === 'number' ? status : statusCode;
    if (typeof httpStatus === 'number') out.status = httpStatus;
    if (err.cause !== undefined && depth < 2) out.cause = describeError(err.cause, depth + 1);
    return out;
  }
  return {
    name: typeof err,
    message: truncate(typeof err === 'string' ? err : 'non-error value thrown'),
  };
}

/** One line for humans: `name[code]: message`. */
export function errorMessage(err: unknown): string {
  const d = describeError(err);
  return `${d.name}${d.code !== undefined ? `[${d.code}]` : ''}: ${d.message}`;
}
