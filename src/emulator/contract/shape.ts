/**
 * Compares the shape (fields and JSON types) of a response with a documented example. Arrays are
 * compared element by element against the example's first element; an empty array on either
 * side says nothing about its elements.
 */
export function shapeDiff(
  expected: unknown,
  actual: unknown,
  allowedExtra: ReadonlySet<string> = new Set(),
  path = '$',
  opaque: ReadonlySet<string> = new Set(),
): string[] {
  const te = typeOf(expected);
  const ta = typeOf(actual);
  if (te !== ta) return [`${path}: expected ${te}, got ${ta}`];
  // User data (a kv payload) has the caller's keys, not the example's.
  if (opaque.has(path)) return [];
  if (te === 'array') {
    const e = expected as unknown[];
    const a = actual as unknown[];
    if (e.length === 0 || a.length === 0) return [];
    return a.flatMap((item, i) => shapeDiff(e[0], item, allowedExtra, `${path}[${i}]`, opaque));
  }
  if (te !== 'object') return [];
  const e = expected as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  const out: string[] = [];
  for (const k of Object.keys(e)) {
    if (!(k in a)) out.push(`${path}.${k}: missing`);
    else out.push(...shapeDiff(e[k], a[k], allowedExtra, `${path}.${k}`, opaque));
  }
  for (const k of Object.keys(a)) {
    if (!(k in e) && !allowedExtra.has(`${path}.${k}`.replace(/\[\d+\]/g, '[]'))) {
      out.push(`${path}.${k}: not in the documented example`);
    }
  }
  return out;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}
