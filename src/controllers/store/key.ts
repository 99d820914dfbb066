// The one place a store is named. Three spellings exist on purpose, each for one reader:
//   storeId        `SecretStore/ns/name`  map and pool keys (unique across namespaces)
//   describeStore  `SecretStore ns/name`  messages and Events
//   storeRefLabel  `SecretStore/name`     recorded on lease credentials in status (persisted:
//                                         resolved again in the lease's own namespace)
import { DEFAULT_STORE_NAME, type StoreRef } from '../../api/index.ts';

export type StoreKind = 'SecretStore' | 'ClusterSecretStore';

/** Identifies a store; `namespace` only for a SecretStore. */
export interface StoreKey {
  kind: StoreKind;
  name: string;
  namespace?: string;
}

export function storeId(key: StoreKey): string {
  return key.kind === 'SecretStore'
    ? `SecretStore/${key.namespace}/${key.name}`
    : `ClusterSecretStore/${key.name}`;
}

export function describeStore(key: StoreKey): string {
  return key.kind === 'SecretStore'
    ? `SecretStore ${key.namespace}/${key.name}`
    : `ClusterSecretStore ${key.name}`;
}

/** The store a resource in `namespace` refers to (omitted: the ClusterSecretStore `default`). */
export function storeKeyFor(namespace: string, ref: StoreRef | undefined): StoreKey {
  if (!ref) return { kind: 'ClusterSecretStore', name: DEFAULT_STORE_NAME };
  return ref.kind === 'SecretStore'
    ? { kind: 'SecretStore', name: ref.name, namespace }
    : { kind: 'ClusterSecretStore', name: ref.name };
}

/** Whether a resource's storeRef (in its namespace) points at `key`. */
export function refersTo(namespace: string, ref: StoreRef | undefined, key: StoreKey): boolean {
  return storeId(storeKeyFor(namespace, ref)) === storeId(key);
}

/** A storeRef as recorded on lease credentials. */
export function storeRefLabel(ref: StoreRef): string {
  return `${ref.kind}/${ref.name}`;
}

/** The inverse of `storeRefLabel`; undefined for anything else. */
export function parseStoreRefLabel(label: string): StoreRef | undefined {
  const match = /^(SecretStore|ClusterSecretStore)\/(.+)$/.exec(label);
  if (!match) return undefined;
  return { kind: match[1] as StoreRef['kind'], name: match[2] as string };
}

/** Controller keys: `ns/name` is a SecretStore, a bare name a ClusterSecretStore. */
export function storeKeyOfObjectKey(key: { namespace?: string; name: string }): StoreKey {
  return key.namespace
    ? { kind: 'SecretStore', namespace: key.namespace, name: key.name }
    : { kind: 'ClusterSecretStore', name: key.name };
}

export function objectKeyOfStore(key: StoreKey): { namespace?: string; name: string } {
  return key.kind === 'SecretStore'
    ? { namespace: key.namespace as string, name: key.name }
    : { name: key.name };
}

/**
 * The storeRef of a resource as written, without parsing the whole resource (hot paths: every
 * resource is asked at a start and on each store verdict). Undefined when absent (the default
 * store); null when it is not a store reference at all (the resource's parse reports it).
 */
export function rawStoreRef(obj: object): StoreRef | undefined | null {
  const spec = (obj as { spec?: { storeRef?: { kind?: unknown; name?: unknown } } }).spec;
  const ref = spec?.storeRef;
  if (ref === undefined) return undefined;
  const known = ref.kind === 'SecretStore' || ref.kind === 'ClusterSecretStore';
  return known && typeof ref.name === 'string' ? (ref as StoreRef) : null;
}
