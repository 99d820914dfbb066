// Splits a template into text and the tokens of its actions. Go's text/template syntax, the
// subset this engine interprets: `{{ }}` with `{{-`/`-}}` trimming, `/* */` comments, fields,
// variables, strings ("…" with escapes, `raw`), numbers, true/false/nil, `|`, `( )`, `,`, `:=`.
import { TemplateFault } from './ast.ts';

export type Token =
  | { kind: 'text'; text: string; start: number; end: number }
  | { kind: 'open'; start: number; end: number }
  | { kind: 'close'; start: number; end: number }
  | { kind: 'field'; path: string[]; start: number; end: number }
  | { kind: 'variable'; name: string; path: string[]; start: number; end: number }
  | { kind: 'identifier'; name: string; start: number; end: number }
  | { kind: 'string'; value: string; start: number; end: number }
  | { kind: 'number'; value: number; start: number; end: number }
  | { kind: 'punct'; value: '|' | '(' | ')' | ',' | ':='; start: number; end: number };

const OPEN = '{{';
const CLOSE = '}}';
const SPACE = /[ \t\r\n]/;
const IDENT_START = /[A-Za-z_]/;
const IDENT = /[A-Za-z0-9_]/;

function isSpace(ch: string | undefined): boolean {
  return ch !== undefined && SPACE.test(ch);
}

export function lex(source: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let trimNext = false;
  while (pos < source.length) {
    const open = source.indexOf(OPEN, pos);
    const textEnd = open === -1 ? source.length : open;
    let text = source.slice(pos, textEnd);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, '');
    trimNext = false;
    const trimBefore = open !== -1 && source[open + 2] === '-' && isSpace(source[open + 3]);
    if (trimBefore) text = text.replace(/[ \t\r\n]+$/, '');
    if (text !== '') tokens.push({ kind: 'text', text, start: pos, end: textEnd });
    if (open === -1) break;
    const inner = open + (trimBefore ? 3 : 2);
    const afterComment = comment(source, inner, open);
    if (afterComment !== undefined) {
      trimNext = afterComment.trim;
      pos = afterComment.end;
      continue;
    }
    tokens.push({ kind: 'open', start: open, end: inner });
    const closed = lexAction(source, inner, tokens, open);
    trimNext = closed.trim;
    pos = closed.end;
  }
  return tokens;
}

/** `{{/* … *\/}}` (spaces allowed around the comment): where it ends, or undefined. */
function comment(
  source: string,
  inner: number,
  open: number,
): { end: number; trim: boolean } | undefined {
  let p = inner;
  while (isSpace(source[p])) p++;
  if (!source.startsWith('/*', p)) return undefined;
  const stop = source.indexOf('*/', p + 2);
  if (stop === -1) throw new TemplateFault('unclosed comment', open);
  p = stop + 2;
  while (isSpace(source[p])) p++;
  if (source.startsWith('-}}', p)) return { end: p + 3, trim: true };
  if (source.startsWith(CLOSE, p)) return { end: p + 2, trim: false };
  throw new TemplateFault('a comment must be the whole action: expected "}}" after "*/"', open);
}

function lexAction(
  source: string,
  start: number,
  tokens: Token[],
  open: number,
): { end: number; trim: boolean } {
  let p = start;
  for (;;) {
    if (p >= source.length) throw new TemplateFault('unclosed action: missing "}}"', open);
    const ch = source[p] as string;
    if (isSpace(ch)) {
      if (source.startsWith('-}}', p + 1)) {
        tokens.push({ kind: 'close', start: p + 1, end: p + 4 });
        return { end: p + 4, trim: true };
      }
      p++;
      continue;
    }
    if (source.startsWith(CLOSE, p)) {
      tokens.push({ kind: 'close', start: p, end: p + 2 });
      return { end: p + 2, trim: false };
    }
    if (ch === '.' || ch === '$') {
      p = lexReference(source, p, tokens);
    } else if (ch === '"') {
      p = lexQuoted(source, p, tokens);
    } else if (ch === '`') {
      const stop = source.indexOf('`', p + 1);
      if (stop === -1) throw new TemplateFault('unterminated raw string', p);
      tokens.push({ kind: 'string', value: source.slice(p + 1, stop), start: p, end: stop + 1 });
      p = stop + 1;
    } else if (/[0-9]/.test(ch) || (ch === '-' && /[0-9]/.test(source[p + 1] ?? ''))) {
      const match = /^-?[0-9]+(\.[0-9]+)?/.exec(source.slice(p, p + 40)) as RegExpExecArray;
      tokens.push({ kind: 'number', value: Number(match[0]), start: p, end: p + match[0].length });
      p += match[0].length;
    } else if (IDENT_START.test(ch)) {
      let q = p + 1;
      while (q < source.length && IDENT.test(source[q] as string)) q++;
      tokens.push({ kind: 'identifier', name: source.slice(p, q), start: p, end: q });
      p = q;
    } else if (source.startsWith(':=', p)) {
      tokens.push({ kind: 'punct', value: ':=', start: p, end: p + 2 });
      p += 2;
    } else if (ch === '|' || ch === '(' || ch === ')' || ch === ',') {
      tokens.push({ kind: 'punct', value: ch, start: p, end: p + 1 });
      p++;
    } else {
      throw new TemplateFault(`unexpected character ${JSON.stringify(ch)} in action`, p);
    }
  }
}

/** `.`, `.a.b`, `$`, `$x`, `$x.a`: one token with its path. */
function lexReference(source: string, start: number, tokens: Token[]): number {
  let p = start;
  let name: string | undefined;
  if (source[p] === '$') {
    let q = p + 1;
    while (q < source.length && IDENT.test(source[q] as string)) q++;
    name = source.slice(p, q);
    p = q;
  }
  const path: string[] = [];
  while (source[p] === '.') {
    let q = p + 1;
    if (!IDENT_START.test(source[q] ?? '')) {
      // A lone "." is dot itself; ".5" or "a." are not references.
      if (name === undefined && path.length === 0 && !IDENT.test(source[q] ?? '')) {
        p = q;
        break;
      }
      throw new TemplateFault('a field name must start with a letter or "_"', q);
    }
    while (q < source.length && IDENT.test(source[q] as string)) q++;
    path.push(source.slice(p + 1, q));
    p = q;
  }
  tokens.push(
    name === undefined
      ? { kind: 'field', path, start, end: p }
      : { kind: 'variable', name, path, start, end: p },
  );
  return p;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  '0': '\0',
};

function lexQuoted(source: string, start: number, tokens: Token[]): number {
  let p = start + 1;
  let value = '';
  for (;;) {
    const ch = source[p];
    if (ch === undefined || ch === '\n') throw new TemplateFault('unterminated string', start);
    if (ch === '"') break;
    if (ch !== '\\') {
      value += ch;
      p++;
      continue;
    }
    const next = source[p + 1] ?? '';
    const simple = Object.hasOwn(ESCAPES, next) ? ESCAPES[next] : undefined;
    if (simple !== undefined) {
      value += simple;
      p += 2;
    } else if (next === 'x' || next === 'u') {
      const digits = next === 'x' ? 2 : 4;
      const hex = source.slice(p + 2, p + 2 + digits);
      if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(hex)) {
        throw new TemplateFault(`bad \\${next} escape in string`, p);
      }
      value += String.fromCharCode(Number.parseInt(hex, 16));
      p += 2 + digits;
    } else {
      throw new TemplateFault(`unknown escape \\${next} in string`, p);
    }
  }
  tokens.push({ kind: 'string', value, start, end: p + 1 });
  return p + 1;
}
