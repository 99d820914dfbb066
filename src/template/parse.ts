// Turns tokens (lex.ts) into the tree of ast.ts. Recursive descent with a bound on nesting, so
// no template can exhaust the stack; every error carries the offset it was found at.
import {
  type Command,
  lineStartsOf,
  type Node,
  type Operand,
  type Pipeline,
  type Template,
  TemplateFault,
} from './ast.ts';
import { lex, type Token } from './lex.ts';

/** Blocks inside blocks and parentheses inside parentheses, at most. */
export const MAX_NESTING = 32;

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block']);

export function parse(source: string): Template {
  const parser = new Parser(lex(source), source.length);
  const { nodes, stop } = parser.list(0);
  if (stop) {
    throw new TemplateFault(
      `unexpected {{ ${stop.word} }} without a matching if or range`,
      stop.at,
    );
  }
  return { nodes, lineStarts: lineStartsOf(source) };
}

interface Stop {
  word: 'else' | 'end';
  at: number;
  /** `else if …`: the condition that follows. */
  elseIf?: Pipeline;
}

class Parser {
  readonly #tokens: Token[];
  readonly #eof: number;
  #i = 0;

  constructor(tokens: Token[], eof: number) {
    this.#tokens = tokens;
    this.#eof = eof;
  }

  /** Nodes up to the end of input or an `else`/`end` action (returned as `stop`). */
  list(depth: number): { nodes: Node[]; stop: Stop | undefined } {
    if (depth > MAX_NESTING) {
      throw new TemplateFault(`blocks nested deeper than ${MAX_NESTING}`, this.#at());
    }
    const nodes: Node[] = [];
    for (;;) {
      const token = this.#tokens[this.#i];
      if (!token) return { nodes, stop: undefined };
      this.#i++;
      if (token.kind === 'text') {
        nodes.push({ kind: 'text', text: token.text, at: token.start });
        continue;
      }
      // token is "open"
      const first = this.#peek();
      const word = first?.kind === 'identifier' && KEYWORDS.has(first.name) ? first.name : '';
      if (word === 'end') {
        this.#i++;
        this.#expectClose('end');
        return { nodes, stop: { word: 'end', at: token.start } };
      }
      if (word === 'else') {
        this.#i++;
        const next = this.#peek();
        if (next?.kind === 'identifier' && next.name === 'if') {
          this.#i++;
          const elseIf = this.pipeline(0, 'close');
          this.#i++;
          return { nodes, stop: { word: 'else', at: token.start, elseIf } };
        }
        this.#expectClose('else');
        return { nodes, stop: { word: 'else', at: token.start } };
      }
      if (word === 'if') {
        this.#i++;
        nodes.push(this.#ifBlock(token.start, depth));
      } else if (word === 'range') {
        this.#i++;
        nodes.push(this.#rangeBlock(token.start, depth));
      } else if (word !== '') {
        throw new TemplateFault(`{{ ${word} }} is not supported`, first?.start ?? token.start);
      } else {
        const pipe = this.pipeline(0, 'close');
        this.#i++;
        nodes.push({ kind: 'action', pipe, at: pipe.at });
      }
    }
  }

  #ifBlock(at: number, depth: number): Node {
    const branches: { cond: Pipeline; body: Node[] }[] = [];
    let cond = this.pipeline(0, 'close');
    this.#i++;
    for (;;) {
      const { nodes, stop } = this.list(depth + 1);
      branches.push({ cond, body: nodes });
      if (!stop) throw new TemplateFault('{{ if }} without {{ end }}', at);
      if (stop.word === 'end') return { kind: 'if', branches, otherwise: [], at };
      if (stop.elseIf) {
        cond = stop.elseIf;
        continue;
      }
      const rest = this.list(depth + 1);
      if (rest.stop?.word !== 'end' || rest.stop.elseIf) {
        throw new TemplateFault('{{ else }} must be followed by {{ end }}', rest.stop?.at ?? at);
      }
      return { kind: 'if', branches, otherwise: rest.nodes, at };
    }
  }

  #rangeBlock(at: number, depth: number): Node {
    let keyVar: string | undefined;
    let valueVar: string | undefined;
    const a = this.#peek();
    const b = this.#tokens[this.#i + 1];
    const c = this.#tokens[this.#i + 2];
    const d = this.#tokens[this.#i + 3];
    const isVar = (t: Token | undefined): t is Extract<Token, { kind: 'variable' }> =>
      t?.kind === 'variable' && t.path.length === 0 && t.name !== '$';
    const isPunct = (t: Token | undefined, v: string) => t?.kind === 'punct' && t.value === v;
    if (isVar(a) && isPunct(b, ':=')) {
      valueVar = a.name;
      this.#i += 2;
    } else if (isVar(a) && isPunct(b, ',') && isVar(c) && isPunct(d, ':=')) {
      keyVar = a.name;
      valueVar = c.name;
      this.#i += 4;
    }
    const pipe = this.pipeline(0, 'close');
    this.#i++;
    const { nodes, stop } = this.list(depth + 1);
    if (!stop) throw new TemplateFault('{{ range }} without {{ end }}', at);
    let otherwise: Node[] = [];
    if (stop.word === 'else') {
      if (stop.elseIf) throw new TemplateFault('{{ else if }} is not allowed in range', stop.at);
      const rest = this.list(depth + 1);
      if (rest.stop?.word !== 'end' || rest.stop.elseIf) {
        throw new TemplateFault('{{ else }} must be followed by {{ end }}', rest.stop?.at ?? at);
      }
      otherwise = rest.nodes;
    }
    return { kind: 'range', keyVar, valueVar, pipe, body: nodes, otherwise, at };
  }

  /** Commands separated by "|", up to (not including) `until`. */
  pipeline(depth: number, until: 'close' | ')'): Pipeline {
    const at = this.#at();
    const commands: Command[] = [];
    for (;;) {
      commands.push(this.#command(depth, until));
      const next = this.#peek();
      if (next?.kind === 'punct' && next.value === '|') {
        this.#i++;
        continue;
      }
      break;
    }
    const end = this.#peek();
    const ok =
      until === 'close' ? end?.kind === 'close' : end?.kind === 'punct' && end.value === ')';
    if (!ok) throw new TemplateFault(`expected ${until === 'close' ? '"}}"' : '")"'}`, this.#at());
    return { commands, at };
  }

  #command(depth: number, until: 'close' | ')'): Command {
    const at = this.#at();
    const args: Operand[] = [];
    for (;;) {
      const token = this.#peek();
      if (!token) throw new TemplateFault('unclosed action', at);
      if (token.kind === 'close' || (token.kind === 'punct' && token.value !== '(')) break;
      args.push(this.#operand(depth, args.length === 0));
    }
    if (args.length === 0) {
      throw new TemplateFault(
        until === 'close' ? 'missing value in action' : 'empty parentheses',
        at,
      );
    }
    return { args, at };
  }

  #operand(depth: number, first: boolean): Operand {
    const token = this.#tokens[this.#i++] as Token;
    switch (token.kind) {
      case 'field':
        return { kind: 'field', path: token.path, at: token.start };
      case 'variable':
        return { kind: 'variable', name: token.name, path: token.path, at: token.start };
      case 'string':
        return { kind: 'string', value: token.value, at: token.start };
      case 'number':
        return { kind: 'number', value: token.value, at: token.start };
      case 'identifier':
        if (token.name === 'true' || token.name === 'false') {
          return { kind: 'bool', value: token.name === 'true', at: token.start };
        }
        if (token.name === 'nil') return { kind: 'nil', at: token.start };
        if (KEYWORDS.has(token.name)) {
          throw new TemplateFault(`unexpected keyword "${token.name}"`, token.start);
        }
        if (!first) {
          throw new TemplateFault(
            `function "${token.name}" used as an argument: call it in parentheses`,
            token.start,
          );
        }
        return { kind: 'identifier', name: token.name, at: token.start };
      case 'punct': {
        // Only "(" reaches here.
        if (depth >= MAX_NESTING) {
          throw new TemplateFault(`parentheses nested deeper than ${MAX_NESTING}`, token.start);
        }
        const pipe = this.pipeline(depth + 1, ')');
        const close = this.#tokens[this.#i++] as Token;
        const after = this.#peek();
        let path: string[] = [];
        if (after?.kind === 'field' && after.start === close.end && after.path.length > 0) {
          path = after.path;
          this.#i++;
        }
        return { kind: 'group', pipe, path, at: token.start };
      }
      default:
        throw new TemplateFault('unexpected token', token.start);
    }
  }

  #expectClose(word: string): void {
    const token = this.#tokens[this.#i];
    if (token?.kind !== 'close') {
      throw new TemplateFault(`{{ ${word} }} takes no arguments`, token?.start ?? this.#eof);
    }
    this.#i++;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  #at(): number {
    return this.#tokens[this.#i]?.start ?? this.#eof;
  }
}
