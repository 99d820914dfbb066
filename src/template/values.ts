// What a template computes with. Maps are `Map`s, never plain objects, so a field name is only
// ever looked up among a value's own keys: `.constructor`, `.__proto__` or `.prototype` find no
// property of any JavaScript object, only a key of that name if the data really has one.

export type Value =
  | string
  | Uint8Array
  | number
  | boolean
  | null
  | Missing
  | readonly Value[]
  | ReadonlyMap<string, Value>;

/** The value of a field that does not exist; `what` is the template text that named it. */
export class Missing {
  readonly what: string;

  constructor(what: string) {
    this.what = what;
  }
}

export function isMap(value: Value): value is ReadonlyMap<string, Value> {
  return value instanceof Map;
}

export function isBytes(value: Value): value is Uint8Array {
  return value instanceof Uint8Array;
}

/** Go's notion of "empty": false, 0, "", no bytes, nil, missing, an empty list or map. */
export function truthy(value: Value): boolean {
  if (value === null || value instanceof Missing) return false;
  if (typeof value === 'string') return value !== '';
  if (typeof value === 'number') return value !== 0;
  if (typeof value === 'boolean') return value;
  if (isBytes(value)) return value.byteLength > 0;
  if (isMap(value)) return value.size > 0;
  return value.length > 0;
}

const decoder = new TextDecoder('utf-8');

/** Text of a scalar; lists and maps as JSON. */
export function textOf(value: Value): string {
  if (typeof value === 'string') return value;
  if (isBytes(value)) return decoder.decode(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return '';
  if (value instanceof Missing) return '';
  return JSON.stringify(toPlain(value));
}

/** Bytes of a value: bytes as they are, anything else as UTF-8 text. */
export function bytesOf(value: Value): Uint8Array {
  return isBytes(value) ? value : Buffer.from(textOf(value), 'utf8');
}

/** Size used for the output and intermediate-value bounds. */
export function sizeOf(value: Value): number {
  if (typeof value === 'string') return value.length;
  if (isBytes(value)) return value.byteLength;
  return 0;
}

/** A JSON-able plain form (for toJson): maps become null-prototype objects. */
export function toPlain(value: Value): unknown {
  if (value instanceof Missing) return null;
  if (isBytes(value)) return decoder.decode(value);
  if (isMap(value)) {
    const out: Record<string, unknown> = Object.create(null);
    for (const [k, v] of value) out[k] = toPlain(v);
    return out;
  }
  if (Array.isArray(value)) return value.map((v: Value) => toPlain(v));
  return value;
}

/** Parsed JSON as template values (objects become Maps); undefined when it is not JSON. */
export function fromJsonText(text: string): Value | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return fromPlain(parsed, 0);
}

/** JSON nested deeper than this is not taken apart (it would only exhaust the stack). */
const MAX_JSON_DEPTH = 64;

function fromPlain(value: unknown, depth: number): Value | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'number') return value;
  if (typeof value === 'boolean') return value;
  if (depth >= MAX_JSON_DEPTH) return undefined;
  if (Array.isArray(value)) {
    const out: Value[] = [];
    for (const item of value) {
      const v = fromPlain(item, depth + 1);
      if (v === undefined) return undefined;
      out.push(v);
    }
    return out;
  }
  const out = new Map<string, Value>();
  for (const key of Object.keys(value as object)) {
    const v = fromPlain((value as Record<string, unknown>)[key], depth + 1);
    if (v === undefined) return undefined;
    out.set(key, v);
  }
  return out;
}

/** What kind of value, for messages (never the value itself). */
export function kindOf(value: Value): string {
  if (value === null) return 'nil';
  if (value instanceof Missing) return 'no value';
  if (isBytes(value)) return 'bytes';
  if (isMap(value)) return 'map';
  if (Array.isArray(value)) return 'list';
  return typeof value;
}
