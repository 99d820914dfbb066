// The functions a template may call: a fixed table, looked up in a Map by name (so no name,
// `constructor` included, reaches anything else). Each works on values only: none reads the
// process, the environment, files or the network. Messages name the function, never a value.
import { filterPem, pemChain, pemFullChain, pemLeaf, pemPrivateKey } from './pem.ts';
import {
  bytesOf,
  fromJsonText,
  isBytes,
  isMap,
  kindOf,
  Missing,
  textOf,
  toPlain,
  truthy,
  type Value,
} from './values.ts';

/** A function's failure; the interpreter adds the position. */
export class CallError extends Error {}

interface Fn {
  /** Argument count: exact, or [min, max]. */
  arity: number | [number, number];
  call(args: Value[]): Value;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function present(name: string, value: Value): Value {
  if (value instanceof Missing) {
    throw new CallError(`${name}: its argument ${value.what} has no value`);
  }
  return value;
}

function text(name: string, value: Value): string {
  const v = present(name, value);
  if (isMap(v) || Array.isArray(v)) {
    throw new CallError(`${name} needs text, got a ${kindOf(v)} (use toJson)`);
  }
  return textOf(v);
}

/** Percent-encodes all but A-Z a-z 0-9 - _ . ~ (space as %20): safe in any part of a URL. */
export function urlEscape(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function equal(a: Value, b: Value): boolean {
  if (isBytes(a) || isBytes(b)) return textOf(a) === textOf(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return a === b;
  return JSON.stringify(toPlain(a)) === JSON.stringify(toPlain(b));
}

function index(collection: Value, key: Value): Value {
  // The key may come from the data, so it is not named in messages.
  const what = 'an index result';
  if (isMap(collection)) {
    if (typeof key !== 'string') throw new CallError('index: a map key must be text');
    return collection.has(key) ? (collection.get(key) as Value) : new Missing(what);
  }
  if (Array.isArray(collection)) {
    if (typeof key !== 'number' || !Number.isInteger(key)) {
      throw new CallError('index: a list index must be a whole number');
    }
    return key >= 0 && key < collection.length ? (collection[key] as Value) : new Missing(what);
  }
  if (collection instanceof Missing) return new Missing(collection.what);
  throw new CallError(`index: cannot index a ${kindOf(collection)}`);
}

export function dockerConfigJson(registry: string, username: string, password: string): string {
  const auth = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  return JSON.stringify({ auths: { [registry]: { username, password, auth } } });
}

const FUNCTIONS = new Map<string, Fn>([
  [
    'b64enc',
    {
      arity: 1,
      call: ([v]) => Buffer.from(bytesOf(present('b64enc', v as Value))).toString('base64'),
    },
  ],
  [
    'b64dec',
    {
      arity: 1,
      call: ([v]) => {
        const s = text('b64dec', v as Value).replace(/\s+/g, '');
        const padded = s.padEnd(Math.ceil(s.length / 4) * 4, '=');
        if (s.length % 4 === 1 || !BASE64.test(padded)) {
          throw new CallError('b64dec: its argument is not valid base64');
        }
        return new Uint8Array(Buffer.from(padded, 'base64'));
      },
    },
  ],
  [
    'toJson',
    { arity: 1, call: ([v]) => JSON.stringify(toPlain(present('toJson', v as Value))) ?? 'null' },
  ],
  [
    'fromJson',
    {
      arity: 1,
      call: ([v]) => {
        const parsed = fromJsonText(text('fromJson', v as Value));
        if (parsed === undefined) throw new CallError('fromJson: its argument is not valid JSON');
        return parsed;
      },
    },
  ],
  ['upper', { arity: 1, call: ([v]) => text('upper', v as Value).toUpperCase() }],
  ['lower', { arity: 1, call: ([v]) => text('lower', v as Value).toLowerCase() }],
  ['trim', { arity: 1, call: ([v]) => text('trim', v as Value).trim() }],
  [
    'trimPrefix',
    {
      arity: 2,
      call: ([p, v]) => {
        const s = text('trimPrefix', v as Value);
        const prefix = text('trimPrefix', p as Value);
        return s.startsWith(prefix) ? s.slice(prefix.length) : s;
      },
    },
  ],
  [
    'trimSuffix',
    {
      arity: 2,
      call: ([p, v]) => {
        const s = text('trimSuffix', v as Value);
        const suffix = text('trimSuffix', p as Value);
        return suffix !== '' && s.endsWith(suffix) ? s.slice(0, -suffix.length) : s;
      },
    },
  ],
  [
    'replace',
    {
      arity: 3,
      call: ([from, to, v]) =>
        text('replace', v as Value).replaceAll(text('replace', from as Value), () =>
          text('replace', to as Value),
        ),
    },
  ],
  ['default', { arity: 2, call: ([d, v]) => (truthy(v as Value) ? (v as Value) : (d as Value)) }],
  ['quote', { arity: 1, call: ([v]) => JSON.stringify(text('quote', v as Value)) }],
  [
    'urlquery',
    { arity: [1, 8], call: (args) => urlEscape(args.map((a) => text('urlquery', a)).join('')) },
  ],
  ['join', { arity: 2, call: ([sep, list]) => join(sep as Value, list as Value) }],
  [
    'index',
    { arity: [2, 8], call: ([c, ...keys]) => keys.reduce(index, present('index', c as Value)) },
  ],
  ['len', { arity: 1, call: ([v]) => length(present('len', v as Value)) }],
  ['eq', { arity: 2, call: ([a, b]) => equal(a as Value, b as Value) }],
  ['ne', { arity: 2, call: ([a, b]) => !equal(a as Value, b as Value) }],
  ['not', { arity: 1, call: ([v]) => !truthy(v as Value) }],
  [
    'and',
    { arity: [2, 8], call: (args) => args.find((a) => !truthy(a)) ?? (args.at(-1) as Value) },
  ],
  ['or', { arity: [2, 8], call: (args) => args.find((a) => truthy(a)) ?? (args.at(-1) as Value) }],
  [
    'filterPEM',
    {
      arity: 2,
      call: ([t, v]) => filterPem(text('filterPEM', v as Value), text('filterPEM', t as Value)),
    },
  ],
  ['pemLeaf', { arity: 1, call: ([v]) => pemLeaf(text('pemLeaf', v as Value)) }],
  ['pemChain', { arity: 1, call: ([v]) => pemChain(text('pemChain', v as Value)) }],
  ['pemPrivateKey', { arity: 1, call: ([v]) => pemPrivateKey(text('pemPrivateKey', v as Value)) }],
  [
    'pemFullChain',
    {
      arity: 2,
      call: ([c, i]) =>
        pemFullChain(text('pemFullChain', c as Value), text('pemFullChain', i as Value)),
    },
  ],
  [
    'dockerConfigJson',
    {
      arity: 3,
      call: ([r, u, p]) =>
        dockerConfigJson(
          text('dockerConfigJson', r as Value),
          text('dockerConfigJson', u as Value),
          text('dockerConfigJson', p as Value),
        ),
    },
  ],
]);

function join(sep: Value, list: Value): string {
  const items = present('join', list);
  if (!Array.isArray(items)) throw new CallError(`join needs a list, got a ${kindOf(items)}`);
  return items.map((item: Value) => text('join', item)).join(text('join', sep));
}

function length(value: Value): number {
  if (typeof value === 'string') return value.length;
  if (isBytes(value)) return value.byteLength;
  if (isMap(value)) return value.size;
  if (Array.isArray(value)) return value.length;
  throw new CallError(`len: a ${kindOf(value)} has no length`);
}

/** The names a template may call, for documentation and tests. */
export const FUNCTION_NAMES: readonly string[] = [...FUNCTIONS.keys()];

export function callFunction(name: string, args: Value[]): Value {
  const fn = FUNCTIONS.get(name);
  if (!fn) throw new CallError(`unknown function "${name}"`);
  const [min, max] = typeof fn.arity === 'number' ? [fn.arity, fn.arity] : fn.arity;
  if (args.length < min || args.length > max) {
    const want = min === max ? `${min}` : `${min} to ${max}`;
    throw new CallError(
      `${name} takes ${want} argument${max === 1 ? '' : 's'}, got ${args.length}`,
    );
  }
  return fn.call(args);
}

export function isFunction(name: string): boolean {
  return FUNCTIONS.has(name);
}
