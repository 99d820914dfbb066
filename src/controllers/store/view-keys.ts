// The pure pieces of a store's view (view.ts): how a remote secret is keyed, what a resource
// records about it, and how two lists of a type compare.
import type { SecretMetadata, SecretRef, SecretType } from '../../secretsmanager/index.ts';

/** What a resource recorded about one secret it synced from (kept in its status; no value). */
export interface SourceState {
  type: SecretType;
  id: string;
  /** Secret group ID; omitted for the default group. */
  group?: string | undefined;
  lastUpdateDate?: string | undefined;
}

export interface Listing {
  at: number;
  /** By canonical key. */
  byKey: Map<string, SecretMetadata>;
  all: SecretMetadata[];
}

/** The types a dataFrom.find without a type lists: never iam_credentials (reads mint keys). */
export const LISTABLE: SecretType[] = [
  'arbitrary',
  'kv',
  'username_password',
  'imported_cert',
  'public_cert',
  'private_cert',
  'service_credentials',
];

export function sourceKey(type: string, group: string | undefined, id: string): string {
  return `${type}\u0000${group && group !== '' ? group : 'default'}\u0000${id}`;
}

export function nameKey(type: string, group: string | undefined, name: string): string {
  return `${sourceKey(type, group, '')}\u0000${name}`;
}

/** Whether a reference is served by the view: the current version of a non-minting secret. */
export function viaView(ref: Pick<SecretRef, 'type' | 'version'>): boolean {
  return ref.type !== 'iam_credentials' && (ref.version === undefined || ref.version === 'current');
}

export function stateOf(m: SecretMetadata): SourceState {
  return {
    type: m.type,
    id: m.id,
    ...(m.groupId !== 'default' ? { group: m.groupId } : {}),
    ...(m.updatedAt !== undefined ? { lastUpdateDate: m.updatedAt } : {}),
  };
}

export function idOrName(ref: SecretRef): { id: string } | { name: string } {
  return ref.id !== undefined ? { id: ref.id } : { name: ref.name ?? '' };
}

export function listChanged(a: Listing, b: Listing): boolean {
  if (a.byKey.size !== b.byKey.size) return true;
  for (const [key, m] of b.byKey) {
    const before = a.byKey.get(key);
    if (!before || before.updatedAt !== m.updatedAt || before.name !== m.name) return true;
    if (before.labels.join('\u0000') !== m.labels.join('\u0000')) return true;
  }
  return false;
}

/** `work`, unless `signal` aborts first; `work` goes on for the others waiting on it. */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return work;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
