// A small template engine for Secret data, in Go text/template syntax (as External Secrets
// Operator users write it): `{{ .username }}`, pipelines `{{ .password | b64enc }}`, function
// calls with arguments, string literals, `{{ if }}`, `{{ range }}`. Templates are written by
// namespace users, so the engine interprets a parsed tree: nothing is compiled to JavaScript,
// field access reaches only the keys of the data, the functions are a fixed table with no access
// to the process, and size, output and steps are bounded. Errors give line:column and never a
// value.
import { positionOf, type Template, TemplateFault } from './ast.ts';
import { evaluate } from './eval.ts';
import { parse } from './parse.ts';
import type { Value } from './values.ts';

export { FUNCTION_NAMES, urlEscape } from './functions.ts';

export interface TemplateLimits {
  /** Characters of template source. */
  maxSourceBytes: number;
  /** Bytes one rendered template may produce (and any value on the way). */
  maxOutputBytes: number;
  /** Interpreter steps one render may take. */
  maxSteps: number;
}

export const DEFAULT_LIMITS: TemplateLimits = {
  maxSourceBytes: 64 * 1024,
  maxOutputBytes: 512 * 1024,
  maxSteps: 100_000,
};

/** What went wrong and where (1-based); the message quotes template text at most. */
export interface TemplateProblem {
  message: string;
  line: number;
  column: number;
}

export type Compiled = { ok: true; template: Template } | { ok: false; problem: TemplateProblem };
export type Rendered =
  | { ok: true; value: string | Uint8Array /** Steps the render took. */; steps: number }
  | { ok: false; problem: TemplateProblem };

export function compileTemplate(source: string, limits: TemplateLimits = DEFAULT_LIMITS): Compiled {
  if (source.length > limits.maxSourceBytes) {
    return {
      ok: false,
      problem: {
        message: `the template is ${source.length} characters long; at most ${limits.maxSourceBytes} are allowed`,
        line: 1,
        column: 1,
      },
    };
  }
  try {
    return { ok: true, template: parse(source) };
  } catch (err) {
    return { ok: false, problem: problemOf(err, source) };
  }
}

/**
 * Renders `template` over `data`: each key is a field of the root (`.key`); text holding a JSON
 * object can be read by field too (`.db.username`).
 */
export function renderTemplate(
  template: Template,
  data: Readonly<Record<string, string | Uint8Array>>,
  limits: TemplateLimits = DEFAULT_LIMITS,
): Rendered {
  const root = new Map<string, Value>(Object.entries(data));
  try {
    return { ok: true, ...evaluate(template, root, limits) };
  } catch (err) {
    if (err instanceof TemplateFault) {
      return {
        ok: false,
        problem: { message: err.message, ...positionOf(template.lineStarts, err.at) },
      };
    }
    // Anything else (a stack overflow, say) is reported without its text, which might hold data.
    return {
      ok: false,
      problem: { message: 'the template could not be rendered', line: 1, column: 1 },
    };
  }
}

function problemOf(err: unknown, source: string): TemplateProblem {
  const starts = [0];
  for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === 10) starts.push(i + 1);
  if (err instanceof TemplateFault) {
    return { message: err.message, ...positionOf(starts, err.at) };
  }
  return { message: 'the template could not be parsed', line: 1, column: 1 };
}

/** "line:column: message". */
export function formatProblem(problem: TemplateProblem): string {
  return `${problem.line}:${problem.column}: ${problem.message}`;
}
