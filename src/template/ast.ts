// The parsed form of a template: plain data the interpreter walks (eval.ts). Nothing here is
// ever turned into JavaScript; every node carries its source offset for error positions.

export interface Position {
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  column: number;
}

export type Node = TextNode | ActionNode | IfNode | RangeNode;

export interface TextNode {
  kind: 'text';
  text: string;
  at: number;
}

/** `{{ pipeline }}`: the pipeline's value is written to the output. */
export interface ActionNode {
  kind: 'action';
  pipe: Pipeline;
  at: number;
}

/** `{{ if p }} … {{ else if q }} … {{ else }} … {{ end }}`. */
export interface IfNode {
  kind: 'if';
  branches: { cond: Pipeline; body: Node[] }[];
  otherwise: Node[];
  at: number;
}

/** `{{ range [$k, $v :=] p }} … {{ else }} … {{ end }}`: over a list or a map (sorted keys). */
export interface RangeNode {
  kind: 'range';
  keyVar: string | undefined;
  valueVar: string | undefined;
  pipe: Pipeline;
  body: Node[];
  otherwise: Node[];
  at: number;
}

/** `a | f x | g`: each command after the first gets the previous value as its last argument. */
export interface Pipeline {
  commands: Command[];
  at: number;
}

/** A function call (`f a b`) or a single operand. */
export interface Command {
  args: Operand[];
  at: number;
}

export type Operand =
  /** `.a.b` (path [] for `.` itself). */
  | { kind: 'field'; path: string[]; at: number }
  /** `$` (the root), `$name`, each with an optional `.a.b`. */
  | { kind: 'variable'; name: string; path: string[]; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: number; at: number }
  | { kind: 'bool'; value: boolean; at: number }
  | { kind: 'nil'; at: number }
  /** A function name. */
  | { kind: 'identifier'; name: string; at: number }
  /** `( pipeline ).a.b` */
  | { kind: 'group'; pipe: Pipeline; path: string[]; at: number };

export interface Template {
  nodes: Node[];
  /** Offsets where each line starts, to turn an offset into line:column. */
  lineStarts: number[];
}

export function positionOf(lineStarts: readonly number[], offset: number): Position {
  let lo = 0;
  let hi = lineStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - (lineStarts[lo] ?? 0) + 1 };
}

export function lineStartsOf(source: string): number[] {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

/** A template problem at a position; the message never quotes a value, only template text. */
export class TemplateFault extends Error {
  readonly at: number;

  constructor(message: string, at: number) {
    super(message);
    this.at = at;
  }
}
