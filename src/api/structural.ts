import { z } from 'zod';

/** A node of a Kubernetes structural OpenAPI v3 schema (the subset this project emits). */
export interface SchemaNode {
  description?: string;
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  enum?: unknown[];
  default?: unknown;
  minimum?: number;
  exclusiveMinimum?: boolean;
  maximum?: number;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode;
  items?: SchemaNode;
  required?: string[];
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-validations'?: { rule: string; message: string; fieldPath?: string }[];
}

/** Keys in the order they are written, so the YAML reads top-down like `kubectl explain`. */
const KEY_ORDER = [
  'description',
  'type',
  'format',
  'enum',
  'default',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'properties',
  'additionalProperties',
  'items',
  'required',
  'x-kubernetes-validations',
] as const satisfies readonly (keyof SchemaNode)[];

const KNOWN_KEYS = new Set<string>(KEY_ORDER);

export class SchemaConversionError extends Error {
  readonly code = 'SchemaConversion';
  override name = 'SchemaConversionError';
}

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Converts a zod schema into a structural schema the API server accepts: zod's OpenAPI 3.0
 * output with every `$ref` inlined, then rewritten node by node. Anything without a structural
 * equivalent (a general union, a nullable, a tuple) is an error, so a schema change that the
 * API server would reject fails `npm run generate` instead of `kubectl apply`.
 */
export function toStructural(schema: z.ZodType): SchemaNode {
  const json = z.toJSONSchema(schema, {
    target: 'openapi-3.0',
    // Input side: a field with a default is optional for the user; the API server fills it in.
    io: 'input',
    reused: 'inline',
    cycles: 'throw',
    unrepresentable: 'throw',
  }) as JsonObject;
  delete json.$schema;
  return convert(json, 'schema');
}

function convert(node: JsonObject, path: string): SchemaNode {
  const out: JsonObject = {};
  const input: JsonObject = { ...node };

  for (const banned of ['$ref', '$defs', 'definitions', 'oneOf', 'allOf', 'not', 'nullable']) {
    if (banned in input) {
      throw new SchemaConversionError(`${path}: "${banned}" has no structural equivalent`);
    }
  }

  if ('anyOf' in input) {
    const members = input.anyOf as JsonObject[];
    const types = members.map((member) => member.type).sort();
    if (members.length !== 2 || types[0] !== 'integer' || types[1] !== 'string') {
      throw new SchemaConversionError(
        `${path}: unions are not structural; use optional fields and a rule (withRules)`,
      );
    }
    delete input.anyOf;
    out['x-kubernetes-int-or-string'] = true;
  }

  if ('const' in input) {
    input.enum = [input.const];
    delete input.const;
  }

  // Every zod integer carries ±MAX_SAFE_INTEGER bounds; they say nothing useful to a reader.
  if (input.minimum === Number.MIN_SAFE_INTEGER) delete input.minimum;
  if (input.maximum === Number.MAX_SAFE_INTEGER) delete input.maximum;

  // zod spells RFC 3339 both as a format and as a long pattern; the format is what Kubernetes
  // validates and documents.
  if (input.format === 'date-time') delete input.pattern;

  for (const [key, value] of Object.entries(input)) {
    switch (key) {
      case 'properties': {
        const properties: Record<string, SchemaNode> = {};
        for (const [name, child] of Object.entries(value as JsonObject)) {
          properties[name] = convert(child as JsonObject, `${path}.${name}`);
        }
        out.properties = properties;
        break;
      }
      case 'items':
        if (!isObject(value))
          throw new SchemaConversionError(`${path}: tuple items are not structural`);
        out.items = convert(value, `${path}[]`);
        break;
      case 'additionalProperties':
        if (value === false) break; // zod's strict objects; the API server prunes unknown fields.
        if (value === true || (isObject(value) && Object.keys(value).length === 0)) {
          // A loose object: keep the fields nobody declared.
          out['x-kubernetes-preserve-unknown-fields'] = true;
          break;
        }
        out.additionalProperties = convert(value as JsonObject, `${path}{}`);
        break;
      default:
        if (!KNOWN_KEYS.has(key)) {
          throw new SchemaConversionError(`${path}: unexpected JSON Schema keyword "${key}"`);
        }
        out[key] = value;
    }
  }

  if (out.properties && out.additionalProperties) {
    throw new SchemaConversionError(`${path}: properties and additionalProperties are exclusive`);
  }
  if (out.properties && out['x-kubernetes-preserve-unknown-fields']) {
    // Structural schemas allow this, but this project parses only declared fields in CRDs.
    throw new SchemaConversionError(`${path}: loose objects are not used in CRD schemas`);
  }
  if (out.type === undefined && !out['x-kubernetes-int-or-string']) {
    throw new SchemaConversionError(`${path}: every node needs a type`);
  }
  return ordered(out);
}

function ordered(node: JsonObject): SchemaNode {
  const out: JsonObject = {};
  for (const key of KEY_ORDER) {
    if (node[key] !== undefined) out[key] = node[key];
  }
  return out as SchemaNode;
}
