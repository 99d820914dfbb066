// One shared copy of strings that thousands of cached objects and per-resource maps repeat:
// namespaces, kinds, label values, `namespace/name` keys, remote secret IDs and dates. Every
// JSON.parse and every template literal makes a new copy; at 10,000 resources the copies were
// a tenth of the heap. The table is bounded: when full it starts over, so strings interned
// before keep being shared by whoever holds them and nothing grows without limit.

const MAX_ENTRIES = 65_536;

let table = new Map<string, string>();

/** The shared copy of `s` (`s` itself the first time it is seen). */
export function intern(s: string): string {
  const known = table.get(s);
  if (known !== undefined) return known;
  if (table.size >= MAX_ENTRIES) table = new Map();
  table.set(s, s);
  return s;
}

/** `intern` for a value that may not be a string (fields of objects not validated yet). */
export function internAny<T>(value: T): T {
  return (typeof value === 'string' ? intern(value) : value) as T;
}

/** Number of strings held (tests). */
export function internedCount(): number {
  return table.size;
}

/**
 * The shared `namespace/name` key of a resource (`/name` without a namespace), for the maps
 * that controllers keep per resource: one copy however many maps hold it.
 */
export function resourceId(metadata: { namespace?: string | undefined; name: string }): string {
  return intern(`${metadata.namespace ?? ''}/${metadata.name}`);
}

let shared = new Map<string, object>();

/**
 * The shared, frozen copy of a flat object (every value a string, number, boolean or null) with
 * the same properties in the same order: `{ kind, name }` of a store, a remote reference, a
 * source's ID and date, which thousands of cached resources repeat. `obj` itself, frozen, the
 * first time; anything else (nested, arrays, empty) is returned as it is. Frozen because one
 * copy is held by many: writing to it throws instead of changing every holder. Bounded as
 * `intern` is.
 */
export function shareFlat<T>(obj: T): T {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return obj;
  const values = Object.values(obj);
  if (values.length === 0 || !values.every(isJsonScalar)) return obj;
  const key = JSON.stringify(obj); // exact for these values: no two such objects share a key
  const known = shared.get(key);
  if (known !== undefined) return known as T;
  if (shared.size >= MAX_ENTRIES) shared = new Map();
  shared.set(key, Object.freeze(obj));
  return obj;
}

/** A value JSON.stringify writes as itself (undefined would be dropped, NaN written as null). */
function isJsonScalar(value: unknown): boolean {
  return (
    value === null ||
    typeof value === 'string' ||
    typeof value === 'boolean' ||
    (typeof value === 'number' && Number.isFinite(value))
  );
}
