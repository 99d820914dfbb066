import { z } from 'zod';

/**
 * A cross-field rule stated once and enforced twice: by the API server as a CEL
 * `x-kubernetes-validations` entry in the generated CRD, and by zod when a controller parses a
 * resource (which may predate the CRD it is checked against, or come from a test).
 */
export interface Rule<T> {
  /** CEL over `self` (this node, after API-server defaulting). */
  cel: string;
  /** What is wrong and how to fix it; shown by `kubectl apply` and in `InvalidSpec` conditions. */
  message: string;
  /** The zod-side twin of `cel`: true when the value is acceptable. */
  holds: (value: T) => boolean;
  /** A child field the message is about (used for the zod issue path and CEL `fieldPath`). */
  field?: string;
}

export const VALIDATIONS_KEY = 'x-kubernetes-validations';

export interface CelValidation {
  rule: string;
  message: string;
  fieldPath?: string;
}

/** Attaches rules to a schema: a zod refinement plus CEL metadata the generator emits. */
export function withRules<S extends z.ZodType>(schema: S, rules: readonly Rule<z.output<S>>[]): S {
  if (rules.length === 0) return schema;
  const existing = (z.globalRegistry.get(schema)?.[VALIDATIONS_KEY] ?? []) as CelValidation[];
  const refined = schema.superRefine((value, ctx) => {
    for (const rule of rules) {
      if (!rule.holds(value)) {
        ctx.addIssue({
          code: 'custom',
          message: rule.message,
          path: rule.field ? [rule.field] : [],
        });
      }
    }
  });
  const validations: CelValidation[] = [
    ...existing,
    ...rules.map((rule) => ({
      rule: rule.cel,
      message: rule.message,
      ...(rule.field ? { fieldPath: `.${rule.field}` } : {}),
    })),
  ];
  return refined.meta({ [VALIDATIONS_KEY]: validations });
}

/** A CEL string literal for `text` (CEL, unlike YAML, rejects unknown escapes such as `\.`). */
export function celString(text: string): string {
  return `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}
