// The interpreter: walks the tree of ast.ts over template values (values.ts). It counts a step
// for every node, operand, call and loop turn (calls also by the size of their arguments) and
// stops at the bound, and it bounds the output and every intermediate value, so no template can
// run long or grow large. Field access reads only the keys of maps built from the data.
import {
  type Command,
  type Node,
  type Operand,
  type Pipeline,
  type Template,
  TemplateFault,
} from './ast.ts';
import { CallError, callFunction } from './functions.ts';
import {
  fromJsonText,
  isBytes,
  isMap,
  kindOf,
  Missing,
  sizeOf,
  textOf,
  truthy,
  type Value,
} from './values.ts';

export interface EvalLimits {
  maxSteps: number;
  maxOutputBytes: number;
}

type Frame = ReadonlyMap<string, Value>;

class Interpreter {
  readonly #limits: EvalLimits;
  readonly #root: Value;
  readonly #chunks: (string | Uint8Array)[] = [];
  /** Input text parsed as JSON for field access, by text. */
  readonly #parsed = new Map<string, Value | undefined>();
  #size = 0;
  #steps = 0;
  #binary = false;

  get steps(): number {
    return this.#steps;
  }

  constructor(root: Value, limits: EvalLimits) {
    this.#root = root;
    this.#limits = limits;
  }

  run(nodes: readonly Node[]): string | Uint8Array {
    this.#list(nodes, this.#root, []);
    if (!this.#binary) return this.#chunks.join('');
    return Buffer.concat(
      this.#chunks.map((c) => (typeof c === 'string' ? Buffer.from(c, 'utf8') : c)),
    );
  }

  #step(at: number, cost = 1): void {
    this.#steps += cost;
    if (this.#steps > this.#limits.maxSteps) {
      throw new TemplateFault(`the template took more than ${this.#limits.maxSteps} steps`, at);
    }
  }

  #list(nodes: readonly Node[], dot: Value, frames: Frame[]): void {
    for (const node of nodes) {
      switch (node.kind) {
        case 'text':
          this.#step(node.at);
          this.#emit(node.text, node.at);
          break;
        case 'action': {
          this.#step(node.at);
          const value = this.#pipeline(node.pipe, dot, frames);
          if (value instanceof Missing) {
            throw new TemplateFault(`${value.what} has no value`, node.at);
          }
          if (isBytes(value)) {
            this.#binary = true;
            this.#emit(value, node.at);
          } else {
            this.#emit(textOf(value), node.at);
          }
          break;
        }
        case 'if': {
          this.#step(node.at);
          const branch = node.branches.find((b) => truthy(this.#pipeline(b.cond, dot, frames)));
          this.#list(branch ? branch.body : node.otherwise, dot, frames);
          break;
        }
        case 'range':
          this.#range(node, dot, frames);
          break;
      }
    }
  }

  #range(node: Extract<Node, { kind: 'range' }>, dot: Value, frames: Frame[]): void {
    this.#step(node.at);
    const over = this.#pipeline(node.pipe, dot, frames);
    let items: [Value, Value][];
    if (Array.isArray(over)) items = over.map((v: Value, i: number) => [i, v]);
    else if (isMap(over)) items = [...over.keys()].sort().map((k) => [k, over.get(k) as Value]);
    else if (over === null || over instanceof Missing) items = [];
    else throw new TemplateFault(`range needs a list or a map, got a ${kindOf(over)}`, node.at);
    if (items.length === 0) {
      this.#list(node.otherwise, dot, frames);
      return;
    }
    for (const [key, value] of items) {
      this.#step(node.at);
      const frame = new Map<string, Value>();
      if (node.keyVar) frame.set(node.keyVar, key);
      if (node.valueVar) frame.set(node.valueVar, value);
      this.#list(node.body, value, [...frames, frame]);
    }
  }

  #pipeline(pipe: Pipeline, dot: Value, frames: Frame[]): Value {
    let value: Value | undefined;
    for (const command of pipe.commands) value = this.#command(command, dot, frames, value);
    return value as Value;
  }

  #command(command: Command, dot: Value, frames: Frame[], piped: Value | undefined): Value {
    this.#step(command.at);
    const [head, ...rest] = command.args as [Operand, ...Operand[]];
    if (head.kind !== 'identifier') {
      if (rest.length > 0 || piped !== undefined) {
        throw new TemplateFault(
          piped !== undefined
            ? 'cannot pipe into a value: the command after "|" must be a function'
            : 'a value cannot take arguments: only functions can',
          command.at,
        );
      }
      return this.#operand(head, dot, frames);
    }
    const args = rest.map((arg) => this.#operand(arg, dot, frames));
    if (piped !== undefined) args.push(piped);
    let size = 0;
    for (const arg of args) size += sizeOf(arg);
    this.#step(head.at, 1 + Math.ceil(size / 1024));
    let result: Value;
    try {
      result = callFunction(head.name, args);
    } catch (err) {
      if (err instanceof CallError) throw new TemplateFault(err.message, head.at);
      throw new TemplateFault(`${head.name} failed`, head.at);
    }
    if (sizeOf(result) > this.#limits.maxOutputBytes) {
      throw new TemplateFault(
        `${head.name} made a value larger than ${this.#limits.maxOutputBytes} bytes`,
        head.at,
      );
    }
    return result;
  }

  #operand(op: Operand, dot: Value, frames: Frame[]): Value {
    this.#step(op.at);
    switch (op.kind) {
      case 'field':
        return this.#path(dot, op.path, '', op.at);
      case 'variable': {
        if (op.name === '$') return this.#path(this.#root, op.path, '$', op.at);
        for (let i = frames.length - 1; i >= 0; i--) {
          const frame = frames[i] as Frame;
          if (frame.has(op.name)) {
            return this.#path(frame.get(op.name) as Value, op.path, op.name, op.at);
          }
        }
        throw new TemplateFault(`undefined variable ${op.name}`, op.at);
      }
      case 'string':
      case 'number':
      case 'bool':
        return op.value;
      case 'nil':
        return null;
      case 'identifier':
        throw new TemplateFault(`function "${op.name}" used as a value`, op.at);
      case 'group': {
        const value = this.#pipeline(op.pipe, dot, frames);
        return this.#path(value, op.path, '(…)', op.at);
      }
    }
  }

  /** Follows `.a.b` from `start`; a missing key gives Missing naming the path. */
  #path(start: Value, path: readonly string[], prefix: string, at: number): Value {
    let value = start;
    let named = prefix;
    for (const name of path) {
      named += `.${name}`;
      if (value instanceof Missing) return new Missing(named);
      const map = isMap(value) ? value : this.#asMap(value, at);
      if (!map) {
        throw new TemplateFault(`cannot read field "${name}" of a ${kindOf(value)}`, at);
      }
      value = map.has(name) ? (map.get(name) as Value) : new Missing(named);
    }
    return value;
  }

  /** Text holding a JSON object reads as a map (structured secrets arrive as JSON). */
  #asMap(value: Value, at: number): ReadonlyMap<string, Value> | undefined {
    if (typeof value !== 'string' || !value.trimStart().startsWith('{')) return undefined;
    if (!this.#parsed.has(value)) {
      this.#step(at, 1 + Math.ceil(value.length / 1024));
      this.#parsed.set(value, fromJsonText(value));
    }
    const parsed = this.#parsed.get(value);
    return parsed !== undefined && isMap(parsed) ? parsed : undefined;
  }

  #emit(chunk: string | Uint8Array, at: number): void {
    this.#size += typeof chunk === 'string' ? Buffer.byteLength(chunk, 'utf8') : chunk.byteLength;
    if (this.#size > this.#limits.maxOutputBytes) {
      throw new TemplateFault(`the output is larger than ${this.#limits.maxOutputBytes} bytes`, at);
    }
    if (sizeOf(chunk) > 0) this.#chunks.push(chunk);
  }
}

export function evaluate(
  template: Template,
  root: Value,
  limits: EvalLimits,
): { value: string | Uint8Array; steps: number } {
  const interpreter = new Interpreter(root, limits);
  const value = interpreter.run(template.nodes);
  return { value, steps: interpreter.steps };
}
