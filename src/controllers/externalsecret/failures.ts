// What a failed read of Secrets Manager means for an ExternalSecret, one row per kind of failure:
// the Ready reason, the message, and when to try again. The Secret keeps its last data in every
// case; only `notFound` with deletionPolicy Delete removes it (the reconciler does that).
import { EXTERNAL_SECRET_REASONS as REASONS } from '../../api/index.ts';
import type { FetchFailure } from './fetch.ts';

/**
 * When to try again: at the next refresh; only when the spec changes; or with the queue's
 * per-key backoff (the reconcile throws), unless the server said when.
 */
export type Retry = 'nextRefresh' | 'specChange' | 'backoff';

export interface FailurePolicy {
  reason: string;
  /** The Ready message; `store` names the store the read went through. */
  message(failure: FetchFailure, store: string): string;
  retry: Retry;
}

const KEEPS = 'the Secret keeps its last data';

export const FAILURES: Record<FetchFailure['kind'], FailurePolicy> = {
  notFound: {
    reason: REASONS.RemoteSecretNotFound,
    message: (f, store) => `${f.message} (read through ${store}); ${KEEPS}`,
    retry: 'nextRefresh',
  },
  invalid: {
    reason: REASONS.InvalidSpec,
    message: (f) => f.message,
    retry: 'specChange',
  },
  mintsKeys: {
    reason: REASONS.UseIAMCredentialLease,
    message: (f) => f.message,
    retry: 'specChange',
  },
  content: {
    reason: REASONS.SyncError,
    message: (f) => `${f.message}; ${KEEPS}`,
    retry: 'nextRefresh',
  },
  forbidden: {
    reason: REASONS.Forbidden,
    message: (f) => `${f.message}; ${KEEPS}`,
    retry: 'nextRefresh',
  },
  remote: {
    reason: REASONS.SyncError,
    message: (f, store) =>
      `reading through ${store} failed: ${f.message}; ${KEEPS} and this is retried with backoff`,
    retry: 'backoff',
  },
};

/** The message of a `notFound` whose target was removed (deletionPolicy Delete). */
export function removedMessage(failure: FetchFailure, store: string, removed: string): string {
  return `${failure.message} (read through ${store}); ${removed} (deletionPolicy Delete)`;
}

/**
 * When to reconcile again after `failure`: milliseconds, undefined (only when the spec changes),
 * or `backoff` (the caller throws, for the queue's per-key backoff). A server that said when
 * (Retry-After) is believed.
 */
export function retryAfterFailure(
  policy: FailurePolicy,
  failure: FetchFailure,
  untilNextRefresh: () => number,
): number | 'backoff' | undefined {
  switch (policy.retry) {
    case 'specChange':
      return undefined;
    case 'nextRefresh':
      return untilNextRefresh();
    case 'backoff': {
      const retryAfter = failure.kind === 'remote' ? failure.error?.retryAfterMs : undefined;
      return retryAfter !== undefined && retryAfter > 0 ? retryAfter : 'backoff';
    }
  }
}
