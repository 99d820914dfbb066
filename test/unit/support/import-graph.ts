// The module graph of src/, read without a compiler: typescript 7 is the native one and has no
// JavaScript parser API, so a small tokenizer finds the import specifiers. It skips comments,
// strings, template text and regular expressions, so an `import` written inside one of those is
// not mistaken for an edge.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

type Token = { kind: 'word' | 'string' | 'punct'; value: string };

const WORD_START = /[A-Za-z_$]/;
const WORD_PART = /[A-Za-z0-9_$]/;
// After these words a `/` starts a regular expression, not a division.
const REGEX_AFTER_WORD = new Set([
  'return',
  'typeof',
  'instanceof',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'case',
  'do',
  'else',
  'yield',
  'await',
]);

/** Words, string literals (with their value) and punctuation; comments and template text dropped. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // One entry per open `{`: true when the brace opened a template `${` substitution.
  const braces: boolean[] = [];
  let i = 0;

  const readString = (quote: string): string => {
    let value = '';
    i++;
    while (i < source.length && source[i] !== quote) {
      if (source[i] === '\\') {
        value += source[i + 1] ?? '';
        i += 2;
      } else {
        value += source[i];
        i++;
      }
    }
    i++;
    return value;
  };

  // Skips template text up to the closing backtick or to a `${`, which it enters.
  const readTemplate = (): void => {
    while (i < source.length) {
      const c = source[i];
      if (c === '\\') {
        i += 2;
      } else if (c === '`') {
        i++;
        tokens.push({ kind: 'string', value: '`template`' });
        return;
      } else if (c === '$' && source[i + 1] === '{') {
        i += 2;
        braces.push(true);
        return;
      } else {
        i++;
      }
    }
  };

  const regexAllowed = (): boolean => {
    const prev = tokens.at(-1);
    if (prev === undefined) return true;
    if (prev.kind === 'string') return false;
    if (prev.kind === 'word') return REGEX_AFTER_WORD.has(prev.value);
    return ![')', ']', '}'].includes(prev.value);
  };

  const skipRegex = (): void => {
    i++;
    let inClass = false;
    while (i < source.length && source[i] !== '\n') {
      const c = source[i];
      if (c === '\\') {
        i += 2;
        continue;
      }
      i++;
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      else if (c === '/' && !inClass) break;
    }
    while (i < source.length && WORD_PART.test(source[i] ?? '')) i++;
    tokens.push({ kind: 'string', value: '/regex/' });
  };

  while (i < source.length) {
    const c = source[i] ?? '';
    const next = source[i + 1];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '/' && next === '/') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = source.indexOf('*/', i + 2);
      i = end === -1 ? source.length : end + 2;
    } else if (c === '/' && regexAllowed()) {
      skipRegex();
    } else if (c === "'" || c === '"') {
      tokens.push({ kind: 'string', value: readString(c) });
    } else if (c === '`') {
      i++;
      readTemplate();
    } else if (c === '{') {
      braces.push(false);
      tokens.push({ kind: 'punct', value: c });
      i++;
    } else if (c === '}') {
      i++;
      if (braces.pop() === true) readTemplate();
      else tokens.push({ kind: 'punct', value: c });
    } else if (WORD_START.test(c)) {
      const start = i;
      while (i < source.length && WORD_PART.test(source[i] ?? '')) i++;
      tokens.push({ kind: 'word', value: source.slice(start, i) });
    } else if (/[0-9]/.test(c)) {
      while (i < source.length && /[0-9A-Za-z_.]/.test(source[i] ?? '')) i++;
      tokens.push({ kind: 'word', value: '0' });
    } else {
      tokens.push({ kind: 'punct', value: c });
      i++;
    }
  }
  return tokens;
}

/**
 * Every module specifier the source names: static imports and re-exports (type-only ones
 * included), side-effect imports, and `import('...')` with a literal argument.
 */
export function importSpecifiers(source: string): string[] {
  const tokens = tokenize(source);
  const found: string[] = [];
  const at = (k: number): Token | undefined => tokens[k];

  // From a clause start, the string after the first `from` before the statement ends.
  const fromClause = (start: number): string | undefined => {
    for (let k = start; k < tokens.length; k++) {
      const t = at(k);
      if (t === undefined || (t.kind === 'punct' && t.value === ';')) return undefined;
      if (t.kind === 'word' && (t.value === 'import' || t.value === 'export') && k > start) {
        return undefined;
      }
      const after = at(k + 1);
      if (t.kind === 'word' && t.value === 'from' && after?.kind === 'string') return after.value;
      if (t.kind === 'string') return undefined;
    }
    return undefined;
  };

  for (let k = 0; k < tokens.length; k++) {
    const t = at(k);
    if (t?.kind !== 'word') continue;
    const prev = at(k - 1);
    if (prev?.kind === 'punct' && prev.value === '.') continue; // x.import, x.export
    const next = at(k + 1);
    if (t.value === 'import') {
      if (next?.kind === 'string') {
        found.push(next.value);
      } else if (next?.kind === 'punct' && next.value === '(') {
        const arg = at(k + 2);
        if (arg?.kind === 'string') found.push(arg.value);
      } else if (next?.kind === 'punct' && next.value === '.') {
        // import.meta
      } else {
        const spec = fromClause(k + 1);
        if (spec !== undefined) found.push(spec);
      }
    } else if (t.value === 'export') {
      const isReExport =
        (next?.kind === 'punct' && (next.value === '*' || next.value === '{')) ||
        (next?.kind === 'word' &&
          next.value === 'type' &&
          at(k + 2)?.kind === 'punct' &&
          ['*', '{'].includes(at(k + 2)?.value ?? ''));
      if (!isReExport) continue;
      const spec = fromClause(k + 1);
      if (spec !== undefined) found.push(spec);
    }
  }
  return found;
}

function listTs(dir: string): string[] {
  const files: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files.push(...listTs(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) files.push(path);
  }
  return files;
}

function resolveRelative(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  return candidates.find((c) => c.endsWith('.ts') && existsSync(c) && statSync(c).isFile());
}

export type ImportGraph = {
  /** file (relative to root) -> the .ts files under root it imports, sorted */
  edges: Map<string, string[]>;
  /** relative specifiers that named no file: a scanner or a source bug */
  unresolved: string[];
};

/** The graph of relative imports between the .ts files under `dir`, paths relative to `root`. */
export function importGraph(root: string, dir: string): ImportGraph {
  const edges = new Map<string, string[]>();
  const unresolved: string[] = [];
  for (const file of listTs(join(root, dir))) {
    const targets = new Set<string>();
    for (const spec of importSpecifiers(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue;
      if (!/\.(ts|js)$/.test(spec) && /\.[a-z]+$/.test(spec)) continue; // .json and friends
      const target = resolveRelative(file, spec);
      if (target === undefined) unresolved.push(`${relative(root, file)}: ${spec}`);
      else targets.add(relative(root, target));
    }
    edges.set(relative(root, file), [...targets].sort());
  }
  return { edges, unresolved };
}

/** Strongly connected components with more than one file (or a file importing itself). */
export function stronglyConnected(edges: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];

  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter);
    counter++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (edges.get(v) ?? []).includes(v)) {
        components.push(component.sort());
      }
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** Shortest path from `from` to `to` using only files in `within`, both ends included. */
function shortestPath(
  edges: Map<string, string[]>,
  within: Set<string>,
  from: string,
  to: string,
): string[] | undefined {
  const parent = new Map<string, string | undefined>([[from, undefined]]);
  const queue = [from];
  while (queue.length > 0) {
    const v = queue.shift()!;
    if (v === to) {
      const path = [v];
      for (let p = parent.get(v); p !== undefined; p = parent.get(p)) path.unshift(p);
      return path;
    }
    for (const w of edges.get(v) ?? []) {
      if (within.has(w) && !parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  return undefined;
}

/**
 * Cycles covering every import edge inside the component: for each edge a -> b the shortest
 * way from b back to a. Each is printed once, starting from its alphabetically first file.
 */
export function cyclesOf(edges: Map<string, string[]>, component: string[]): string[][] {
  const within = new Set(component);
  const seen = new Set<string>();
  const cycles: string[][] = [];
  for (const a of component) {
    for (const b of edges.get(a) ?? []) {
      if (!within.has(b)) continue;
      const back = a === b ? [a] : shortestPath(edges, within, b, a);
      if (back === undefined) continue;
      const ring = a === b ? [a] : back;
      const first = ring.indexOf([...ring].sort()[0]!);
      const rotated = [...ring.slice(first), ...ring.slice(0, first)];
      const key = rotated.join(' -> ');
      if (seen.has(key)) continue;
      seen.add(key);
      cycles.push([...rotated, rotated[0]!]);
    }
  }
  return cycles.sort((x, y) => x.length - y.length || x.join().localeCompare(y.join()));
}
