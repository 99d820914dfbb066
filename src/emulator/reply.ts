import { randomUUID } from 'node:crypto';

/** What a handler returns; the server writes it as is. */
export interface Reply {
  status: number;
  /** Serialized JSON (or nothing for 204). */
  body?: string;
  headers?: Record<string, string>;
}

/** Which service answers a route: each has its own error shape. */
export type Family = 'vault' | 'iam' | 'identity' | 'rest' | 'admin';

/** An error a handler throws; the server renders it in the route family's shape. */
export class ApiError extends Error {
  readonly status: number;
  /** IAM's `errorCode` or the REST API's `code`. */
  readonly code: string | undefined;
  constructor(status: number, message: string, code?: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export const badRequest = (message: string): ApiError => new ApiError(400, message);
export const notFound = (message: string): ApiError => new ApiError(404, message);
/** Vault answers every authorization failure with the same words, whatever the cause. */
export const permissionDenied = (): ApiError => new ApiError(403, 'permission denied');

export function json(status: number, value: unknown, headers?: Record<string, string>): Reply {
  return headers
    ? { status, body: JSON.stringify(value), headers }
    : { status, body: JSON.stringify(value) };
}

export const noContent = (): Reply => ({ status: 204 });

export interface EnvelopeExtras {
  leaseId?: string;
  leaseDuration?: number;
  renewable?: boolean;
  auth?: unknown;
}

/**
 * The Vault response envelope, in the documented field order. `dataJson` is already serialized
 * so a cached rendering of a secret can be reused across reads.
 */
export function envelopeJson(dataJson: string, extras?: EnvelopeExtras): string {
  const leaseId = JSON.stringify(extras?.leaseId ?? '');
  const renewable = extras?.renewable ?? false;
  const leaseDuration = extras?.leaseDuration ?? 0;
  const auth = extras?.auth === undefined ? 'null' : JSON.stringify(extras.auth);
  return `{"request_id":"${randomUUID()}","lease_id":${leaseId},"renewable":${renewable},"lease_duration":${leaseDuration},"data":${dataJson},"wrap_info":null,"warnings":null,"auth":${auth}}`;
}

export function vault(data: unknown, extras?: EnvelopeExtras): Reply {
  return {
    status: 200,
    body: envelopeJson(data === undefined ? 'null' : JSON.stringify(data), extras),
  };
}

export function vaultRaw(dataJson: string, extras?: EnvelopeExtras): Reply {
  return { status: 200, body: envelopeJson(dataJson, extras) };
}

/** Renders an error in the shape of the service that owns the route. */
export function errorReply(family: Family, err: ApiError, url: string): Reply {
  switch (family) {
    case 'vault':
      return json(err.status, { errors: [err.message] });
    case 'iam':
      return json(err.status, {
        errorCode: err.code ?? 'BXNIM0400E',
        errorMessage: err.message,
        context: iamContext(url),
      });
    case 'identity':
    case 'rest':
      return json(err.status, {
        errors: [{ code: err.code ?? codeFor(err.status), message: err.message, more_info: '' }],
        status_code: err.status,
        trace: randomUUID(),
      });
    case 'admin':
      return json(err.status, { error: err.message });
  }
}

function codeFor(status: number): string {
  if (status === 400) return 'bad_request';
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 429) return 'too_many_requests';
  return 'internal_error';
}

/** IAM puts request context into every error; the fields are informative only. */
function iamContext(url: string): Record<string, string> {
  const now = new Date().toISOString();
  return {
    requestId: randomUUID(),
    requestType: 'incoming.OIDC_Token',
    userAgent: '',
    url,
    instanceId: 'iamid-emulator',
    threadId: '1',
    host: 'secrets-manager-emulator',
    startTime: now,
    endTime: now,
    elapsedTime: '0',
    locale: 'en_US',
    clusterName: 'emulator',
  };
}
