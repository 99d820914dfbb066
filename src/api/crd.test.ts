import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { buildCrd, KIND_DEFINITIONS, renderCrdFiles } from './crd.ts';
import { SchemaConversionError, type SchemaNode, toStructural } from './structural.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const files = renderCrdFiles();

describe('generated CRDs on disk', () => {
  it.each(['crds', 'deploy/helm/crds'])('%s/ matches the zod schemas', (directory) => {
    for (const file of files) {
      let onDisk = '';
      try {
        onDisk = readFileSync(join(root, directory, file.fileName), 'utf8');
      } catch {
        // reported by the assertion below
      }
      expect(
        onDisk === file.yaml,
        `${directory}/${file.fileName} is stale: run npm run generate`,
      ).toBe(true);
    }
  });

  it('are generated deterministically', () => {
    expect(renderCrdFiles().map((file) => file.yaml)).toEqual(files.map((file) => file.yaml));
  });
});

const ALLOWED_KEYS = new Set([
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
  'properties',
  'additionalProperties',
  'items',
  'required',
  'x-kubernetes-int-or-string',
  'x-kubernetes-preserve-unknown-fields',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
  'x-kubernetes-validations',
]);
const FORMATS = new Set(['date-time', 'int32', 'int64', 'byte', 'uri', 'uuid']);

/** Every rule of a structural schema that the API server (or `kubectl explain` users) rely on. */
function structuralProblems(node: SchemaNode, path: string, problems: string[]): string[] {
  const record = node as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!ALLOWED_KEYS.has(key)) problems.push(`${path}: keyword ${key} is not allowed`);
  }
  if (node.type === undefined && !node['x-kubernetes-int-or-string']) {
    problems.push(`${path}: has no type`);
  }
  if (node.properties && node.additionalProperties) {
    problems.push(`${path}: has both properties and additionalProperties`);
  }
  if (typeof record.additionalProperties === 'boolean') {
    problems.push(`${path}: additionalProperties must be a schema`);
  }
  if (node.format !== undefined && !FORMATS.has(node.format)) {
    problems.push(`${path}: unknown format ${node.format}`);
  }
  if (node.type === 'array' && node.items === undefined)
    problems.push(`${path}: array without items`);
  if (node.type !== 'object' && (node.properties || node.additionalProperties || node.required)) {
    problems.push(`${path}: object keywords on a ${node.type}`);
  }
  for (const name of node.required ?? []) {
    if (!node.properties?.[name]) problems.push(`${path}: requires undeclared ${name}`);
  }
  if (node.enum) {
    for (const value of node.enum) {
      if (!matchesType(value, node))
        problems.push(`${path}: enum value ${String(value)} is not a ${node.type}`);
    }
  }
  if (node.default !== undefined) {
    if (!matchesType(node.default, node)) problems.push(`${path}: default does not match type`);
    if (node.enum && !node.enum.includes(node.default))
      problems.push(`${path}: default not in enum`);
    if (node.type === 'object' && node.properties) {
      for (const key of Object.keys(node.default as object)) {
        if (!node.properties[key]) problems.push(`${path}: default sets undeclared ${key}`);
      }
    }
  }
  if (node['x-kubernetes-list-type'] === 'map') {
    for (const key of node['x-kubernetes-list-map-keys'] ?? []) {
      const item = node.items;
      if (!item?.required?.includes(key))
        problems.push(`${path}: list-map key ${key} must be required`);
      const type = item?.properties?.[key]?.type;
      if (type !== 'string' && type !== 'integer') {
        problems.push(`${path}: list-map key ${key} must be a scalar`);
      }
    }
  }
  for (const validation of node['x-kubernetes-validations'] ?? []) {
    if (validation.message.trim() === '') problems.push(`${path}: CEL rule without a message`);
    // Catch typos in rules: every field a rule reads must exist on this node.
    for (const [, field] of validation.rule.matchAll(/self\.([A-Za-z_][A-Za-z0-9_]*)/g)) {
      if (field === 'matches' || field === 'all' || field === 'exists') continue;
      if (!node.properties?.[field as string])
        problems.push(`${path}: CEL rule reads unknown ${field}`);
    }
    if (validation.fieldPath && !node.properties?.[validation.fieldPath.slice(1)]) {
      problems.push(`${path}: CEL fieldPath ${validation.fieldPath} does not exist`);
    }
  }
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const childPath = `${path}.${name}`;
    if (childPath !== '.metadata' && !child.description?.trim()) {
      problems.push(`${childPath}: has no description for kubectl explain`);
    }
    structuralProblems(child, childPath, problems);
  }
  if (node.items) structuralProblems(node.items, `${path}[]`, problems);
  if (node.additionalProperties)
    structuralProblems(node.additionalProperties, `${path}{}`, problems);
  return problems;
}

function matchesType(value: unknown, node: SchemaNode): boolean {
  switch (node.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    default:
      return true;
  }
}

function resolve(schema: SchemaNode, jsonPath: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = schema;
  for (const segment of jsonPath
    .replace(/\[\?\(.*\)\]|\[\*\]/g, '')
    .split('.')
    .slice(1)) {
    node = node?.type === 'array' ? node.items?.properties?.[segment] : node?.properties?.[segment];
  }
  return node;
}

describe.each(files.map((file) => [file.crd.spec.names.kind, file.crd] as const))(
  '%s CRD',
  (_kind, crd) => {
    const version = crd.spec.versions[0]!;
    const schema = version.schema.openAPIV3Schema;

    it('has a structural schema with a description on every field', () => {
      expect(structuralProblems(schema, '', [])).toEqual([]);
    });

    it('serves status as a subresource and lists under the secrets-manager category', () => {
      expect(version.subresources).toEqual({ status: {} });
      expect(crd.spec.names.categories).toEqual(['secrets-manager']);
    });

    it('has printer columns that point at fields that exist', () => {
      for (const column of version.additionalPrinterColumns) {
        if (column.jsonPath === '.metadata.creationTimestamp') continue;
        expect(resolve(schema, column.jsonPath), column.jsonPath).toBeDefined();
      }
    });
  },
);

describe('names', () => {
  it('uses short names that do not clash with External Secrets Operator', () => {
    const esoShortNames = ['es', 'ss', 'css', 'ces', 'ps', 'cps', 'ecr'];
    const ours = KIND_DEFINITIONS.flatMap((definition) => definition.shortNames);
    expect(ours.filter((name) => esoShortNames.includes(name))).toEqual([]);
    expect(new Set(ours).size).toBe(ours.length);
  });

  it('names CRDs <plural>.<group>, cluster-scoping only the Cluster kinds', () => {
    expect(files.map((file) => [file.crd.metadata.name, file.crd.spec.scope])).toEqual([
      ['secretstores.secrets-manager.dev', 'Namespaced'],
      ['clustersecretstores.secrets-manager.dev', 'Cluster'],
      ['externalsecrets.secrets-manager.dev', 'Namespaced'],
      ['iamcredentialleases.secrets-manager.dev', 'Namespaced'],
      ['clusterexternalsecrets.secrets-manager.dev', 'Cluster'],
    ]);
  });
});

describe('toStructural', () => {
  it('turns an integer-or-string union into x-kubernetes-int-or-string', () => {
    const node = toStructural(
      z.object({ port: z.union([z.number().int(), z.string()]).describe('p') }),
    );
    expect(node.properties?.port).toEqual({ description: 'p', 'x-kubernetes-int-or-string': true });
  });

  it('refuses unions it cannot express, so a bad schema fails generate and not kubectl apply', () => {
    expect(() => toStructural(z.object({ x: z.union([z.string(), z.boolean()]) }))).toThrow(
      SchemaConversionError,
    );
    expect(() => toStructural(z.object({ x: z.string().nullable() }))).toThrow(
      SchemaConversionError,
    );
  });

  it('keeps a free-form map as additionalProperties and drops zod noise', () => {
    const node = toStructural(
      z.object({
        labels: z.record(z.string(), z.string()),
        n: z.number().int(),
        at: z.iso.datetime(),
      }),
    );
    expect(node.properties?.labels).toEqual({
      type: 'object',
      additionalProperties: { type: 'string' },
    });
    expect(node.properties?.n).toEqual({ type: 'integer' });
    expect(node.properties?.at).toEqual({ type: 'string', format: 'date-time' });
  });

  it('builds the same CRD from the same definition', () => {
    const definition = KIND_DEFINITIONS[0]!;
    expect(buildCrd(definition)).toEqual(buildCrd(definition));
  });
});
