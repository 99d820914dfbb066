// Property-based tests of the parse paths every controller starts with: whatever a resource
// holds, parsing returns a result (never throws), a rejection names the field it is about, and
// what parses is stable (parsing the parsed value, or its JSON, gives the same value).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { SECRET_TYPES } from '../secretsmanager/types.ts';
import { refreshPlan } from './externalsecret.ts';
import { API_VERSION } from './group.ts';
import { ClusterSecretStore, ExternalSecret, IAMCredentialLease, SecretStore } from './index.ts';
import {
  formatPath,
  INVALID_VALUE,
  type ParseResult,
  parseClusterSecretStore,
  parseExternalSecret,
  parseIAMCredentialLease,
  parseSecretStore,
} from './parse.ts';
import { REGIONS, REVOCATION_METHODS } from './store.ts';

/** Longest message a rejection may produce: it goes into a condition (32768 at most) and Events. */
const MAX_MESSAGE = 4096;

// --- Plausible values -------------------------------------------------------------------

const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?$/);
const objectName = fc
  .array(label, { minLength: 1, maxLength: 3 })
  .map((parts) => parts.join('.'))
  .filter((name) => name.length <= 253);
const secretKey = fc.stringMatching(/^[-._a-zA-Z0-9]{1,40}$/);
const remoteName = fc.stringMatching(/^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,40}$/);
const remoteId = fc.oneof(fc.uuid(), fc.constantFrom('default', 'current', 'previous'));
const secretType = fc.constantFrom(...SECRET_TYPES);
const duration = fc
  .tuple(fc.integer({ min: 1, max: 500 }), fc.constantFrom('h', 'm', 's'))
  .map(([n, unit]) => `${unit === 's' ? n + 5 : n}${unit}`);
const schedule = fc.constantFrom('@hourly', '@daily', '0 */6 * * *', '*/15 * * * *', '5 4 * * 1-5');
const stringMap = fc.dictionary(secretKey, fc.string({ maxLength: 40 }), { maxKeys: 4 });
const metadata = fc.record(
  {
    name: objectName,
    namespace: label,
    uid: fc.uuid(),
    generation: fc.nat(),
    resourceVersion: fc.nat().map(String),
    labels: stringMap,
    annotations: stringMap,
  },
  { requiredKeys: ['name'] },
);
const storeRef = fc.record(
  { kind: fc.constantFrom('SecretStore', 'ClusterSecretStore'), name: objectName },
  { requiredKeys: ['name'] },
);
const idOrName = fc.oneof(
  remoteId.map((id) => ({ id })),
  remoteName.map((name) => ({ name })),
);
const rollout = fc.uniqueArray(
  fc.record({ kind: fc.constantFrom('Deployment', 'StatefulSet', 'DaemonSet'), name: objectName }),
  { maxLength: 3, selector: (t) => `${t.kind}/${t.name}` },
);

const remoteRef = fc
  .tuple(
    idOrName,
    fc.record(
      {
        type: secretType,
        group: remoteId,
        property: fc.stringMatching(/^[a-z_.0-9]{1,30}$/),
        version: remoteId,
      },
      { requiredKeys: ['type'] },
    ),
  )
  .map(([ref, rest]) => ({ ...rest, ...ref }));

const dataFromItem = fc.oneof(
  fc
    .tuple(
      idOrName,
      fc.record({ type: secretType, keyPrefix: secretKey }, { requiredKeys: ['type'] }),
    )
    .map(([ref, rest]) => ({ extract: { ...rest, ...ref } })),
  fc
    .record({
      type: secretType,
      group: remoteId,
      labels: fc.array(fc.string({ minLength: 1, maxLength: 20 }), { maxLength: 3 }),
      name: fc.constantFrom('^payments-', 'db$', '.*').map((regexp) => ({ regexp })),
    })
    .map((find) => ({ find })),
);

const externalSecret = fc
  .record({
    metadata,
    storeRef: fc.option(storeRef, { nil: undefined }),
    refresh: fc.oneof(
      fc.constant({}),
      duration.map((refreshInterval) => ({ refreshInterval })),
      fc.constant({ refreshInterval: '0' }),
      schedule.map((refreshSchedule) => ({ refreshSchedule })),
    ),
    target: fc.option(
      fc.record(
        {
          name: objectName,
          creationPolicy: fc.constantFrom('Owner', 'Orphan'),
          deletionPolicy: fc.constantFrom('Retain', 'Delete'),
          type: fc.constantFrom('Opaque', 'kubernetes.io/tls'),
          labels: stringMap,
          annotations: stringMap,
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    data: fc.uniqueArray(fc.record({ secretKey, remoteRef }), {
      minLength: 1,
      maxLength: 5,
      selector: (d) => d.secretKey,
    }),
    dataFrom: fc.option(fc.array(dataFromItem, { maxLength: 3 }), { nil: undefined }),
    rolloutRestartTargets: rollout,
  })
  .map(({ metadata, storeRef, refresh, target, data, dataFrom, rolloutRestartTargets }) => ({
    apiVersion: API_VERSION,
    kind: 'ExternalSecret',
    metadata,
    spec: {
      ...(storeRef ? { storeRef } : {}),
      ...refresh,
      ...(target ? { target } : {}),
      data,
      ...(dataFrom ? { dataFrom } : {}),
      rolloutRestartTargets,
    },
  }));

const iamCredentialLease = fc
  .record({
    metadata,
    storeRef: fc.option(storeRef, { nil: undefined }),
    credential: fc
      .tuple(idOrName, fc.option(remoteId, { nil: undefined }))
      .map(([ref, group]) => ({ ...ref, ...(group ? { group } : {}) })),
    target: fc.option(
      fc.record(
        {
          name: objectName,
          keys: fc
            .uniqueArray(secretKey, { minLength: 2, maxLength: 2 })
            .map(([apiKey, serviceId]) => ({ apiKey, serviceId })),
          labels: stringMap,
        },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
    renew: fc.oneof(
      fc.constant({}),
      duration.map((renewBefore) => ({ renewBefore })),
      fc.double({ min: 0.1, max: 0.9, noNaN: true }).map((renewFraction) => ({ renewFraction })),
    ),
    gracePeriod: fc.option(fc.oneof(duration, fc.constant('0')), { nil: undefined }),
    revokeOnDelete: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ metadata, storeRef, credential, target, renew, gracePeriod, revokeOnDelete }) => ({
    apiVersion: API_VERSION,
    kind: 'IAMCredentialLease',
    metadata,
    spec: {
      ...(storeRef ? { storeRef } : {}),
      credential,
      ...(target ? { target } : {}),
      ...renew,
      ...(gracePeriod !== undefined ? { gracePeriod } : {}),
      ...(revokeOnDelete !== undefined ? { revokeOnDelete } : {}),
    },
  }));

const httpUrl = fc
  .tuple(
    fc.constantFrom('https', 'http'),
    objectName,
    fc.option(fc.integer({ min: 1, max: 65535 })),
  )
  .map(([scheme, host, port]) => `${scheme}://${host}${port ? `:${port}` : ''}`);

function store(kind: 'SecretStore' | 'ClusterSecretStore') {
  const secretRef = fc.record({
    name: objectName,
    key: secretKey,
    ...(kind === 'ClusterSecretStore' ? { namespace: label } : {}),
  });
  const location = fc.oneof(
    httpUrl.map((url) => ({ url })),
    fc
      .record({ instanceId: fc.uuid(), region: fc.constantFrom(...REGIONS), private: fc.boolean() })
      .map((l) => l),
  );
  return fc
    .record({
      metadata,
      location,
      iamUrl: fc.option(httpUrl, { nil: undefined }),
      secretRef,
      revocation: fc.option(fc.constantFrom(...REVOCATION_METHODS), { nil: undefined }),
      rateLimit: fc.option(
        fc.record({
          qps: fc.double({ min: 0.01, max: 1000, noNaN: true }),
          burst: fc.integer({ min: 1, max: 10000 }),
        }),
        { nil: undefined },
      ),
      conditions: fc.array(
        fc.oneof(
          fc.record({ namespaces: fc.array(label, { maxLength: 3 }) }),
          fc.record({ namespaceSelector: fc.record({ matchLabels: stringMap }) }),
        ),
        { maxLength: 3 },
      ),
    })
    .map(({ metadata, location, iamUrl, secretRef, revocation, rateLimit, conditions }) => ({
      apiVersion: API_VERSION,
      kind,
      metadata,
      spec: {
        secretsManager: {
          ...location,
          ...(iamUrl ? { iamUrl } : {}),
          auth: { apiKey: { secretRef } },
          ...(revocation ? { revocation } : {}),
        },
        ...(rateLimit ? { rateLimit } : {}),
        ...(kind === 'ClusterSecretStore' ? { conditions } : {}),
      },
    }));
}

// --- Malformed values -------------------------------------------------------------------

/** Values no field expects: wrong types, huge and odd strings, nested junk. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -0, Number.NaN, Infinity, -1, 1.5, 2 ** 53),
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.string({ unit: 'grapheme', maxLength: 32 }),
  fc.constantFrom('', ' ', '\u0000', '..', '../x', 'a/b', '%2F', '\u202e', '🔥'.repeat(300)),
  fc.integer({ min: 256, max: 70_000 }).map((n) => 'x'.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map((n) => '\u{1F600}'.repeat(n)),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.anything({
    maxDepth: 3,
    withNullPrototype: true,
    withBigInt: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
  }),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 300 }),
  fc.dictionary(fc.string({ unit: 'binary', maxLength: 300 }), fc.anything({ maxDepth: 1 }), {
    maxKeys: 5,
  }),
);

type Path = (string | number)[];

/** Every path to a value inside `value` (plain objects and arrays), the root excluded. */
function paths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const proto = Object.getPrototypeOf(value);
  const out: Path[] = [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      out.push([...prefix, i], ...paths(value[i], [...prefix, i]));
    }
  } else if (proto === Object.prototype || proto === null) {
    for (const key of Object.keys(value)) {
      const path = [...prefix, key];
      out.push(path, ...paths((value as Record<string, unknown>)[key], path));
    }
  }
  return out;
}

type Mutation =
  | { op: 'replace'; at: number; value: unknown }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), value: junk }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.integer({ min: 65, max: 10_000 }).map((n) => 'k'.repeat(n)),
    ),
    value: junk,
  }),
);

/** A copy of `valid` with 1-4 mutations applied at paths picked from what is there. */
function malformed(valid: fc.Arbitrary<Record<string, unknown>>) {
  return fc
    .tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 }))
    .map(([value, mutations]) => {
      const copy = structuredClone(value) as Record<string, unknown>;
      for (const m of mutations) {
        const all = paths(copy);
        if (all.length === 0) break;
        const path = all[m.at % all.length] as Path;
        const parent = path
          .slice(0, -1)
          .reduce<unknown>(
            (node, key) => (node as Record<string | number, unknown>)[key],
            copy,
          ) as Record<string | number, unknown>;
        const last = path.at(-1) as string | number;
        if (m.op === 'replace') parent[last] = m.value;
        else if (m.op === 'delete') {
          if (Array.isArray(parent)) parent.splice(Number(last), 1);
          else delete parent[last];
        } else {
          const target = parent[last];
          if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
            (target as Record<string, unknown>)[m.key] = m.value;
          } else parent[last] = { [m.key]: m.value };
        }
      }
      return copy;
    });
}

// --- Properties -------------------------------------------------------------------------

interface Kind {
  name: string;
  schema: z.ZodType;
  parse: (input: unknown) => ParseResult<unknown>;
  valid: fc.Arbitrary<Record<string, unknown>>;
}

const kinds: Kind[] = [
  {
    name: 'ExternalSecret',
    schema: ExternalSecret,
    parse: parseExternalSecret,
    valid: externalSecret,
  },
  {
    name: 'IAMCredentialLease',
    schema: IAMCredentialLease,
    parse: parseIAMCredentialLease,
    valid: iamCredentialLease,
  },
  {
    name: 'SecretStore',
    schema: SecretStore,
    parse: parseSecretStore,
    valid: store('SecretStore'),
  },
  {
    name: 'ClusterSecretStore',
    schema: ClusterSecretStore,
    parse: parseClusterSecretStore,
    valid: store('ClusterSecretStore'),
  },
];

// 4 kinds x (800 valid + 1500 malformed) + 4 x 300 arbitrary = 10,400 generated resources.
const VALID_RUNS = 800;
const MALFORMED_RUNS = 1_500;
const ARBITRARY_RUNS = 300;

function parseSafely(kind: Kind, input: unknown): ParseResult<unknown> {
  let result: ParseResult<unknown> | undefined;
  expect(() => {
    result = kind.parse(input);
  }).not.toThrow();
  return result as ParseResult<unknown>;
}

/** A rejection starts with the path of its first issue, and names every issue it lists. */
function expectNamesFields(kind: Kind, input: unknown, message: string): void {
  expect(message.length).toBeGreaterThan(0);
  expect(message.length).toBeLessThanOrEqual(MAX_MESSAGE);
  let result: ReturnType<typeof kind.schema.safeParse>;
  try {
    result = kind.schema.safeParse(input);
  } catch {
    // A value zod cannot walk (JSON never carries one): reported without a field.
    expect(message).toBe(INVALID_VALUE);
    return;
  }
  expect(result.success).toBe(false);
  if (result.success) return;
  for (const issue of result.error.issues.slice(0, 3)) {
    expect(issue.path.length, `issue without a field: ${issue.message}`).toBeGreaterThan(0);
  }
  expect(message).toMatch(/^(apiVersion|kind|metadata|spec|status)\b/);
}

// Generous timeouts: a loaded CI machine runs these several times slower than a laptop.
describe.each(kinds)('$name', { timeout: 60_000 }, (kind) => {
  it('parses plausible specs and round-trips them', () => {
    fc.assert(
      fc.property(kind.valid, (input) => {
        const first = parseSafely(kind, input);
        if (!first.ok) throw new Error(`rejected a valid ${kind.name}: ${first.message}`);
        // Parsing is idempotent, and survives the trip through JSON a status update takes.
        const again = kind.parse(first.value);
        const viaJson = kind.parse(JSON.parse(JSON.stringify(first.value)));
        expect(again).toEqual(first);
        expect(viaJson).toEqual(first);
        if (kind.name === 'ExternalSecret') {
          expect(() => refreshPlan((first.value as ExternalSecret).spec)).not.toThrow();
        }
      }),
      { numRuns: VALID_RUNS },
    );
  });

  it('rejects malformed specs with a message naming the field, and never throws', () => {
    let rejected = 0;
    fc.assert(
      fc.property(malformed(kind.valid), (input) => {
        const result = parseSafely(kind, input);
        if (result.ok) {
          // Still valid (an optional field deleted, an unknown one added): parsing is stable.
          expect(kind.parse(result.value)).toEqual(result);
          return;
        }
        rejected++;
        expectNamesFields(kind, input, result.message);
      }),
      { numRuns: MALFORMED_RUNS },
    );
    // The generator must mostly produce invalid resources, or it tests little.
    expect(rejected).toBeGreaterThan(MALFORMED_RUNS / 2);
  });

  it('returns a bounded message for any value at all, objects or not', () => {
    fc.assert(
      fc.property(fc.oneof(junk, fc.object({ maxDepth: 3, withNullPrototype: true })), (input) => {
        const result = parseSafely(kind, input);
        expect(result.ok).toBe(false);
        if (!result.ok) {
          expect(result.message.length).toBeGreaterThan(0);
          expect(result.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
        }
      }),
      { numRuns: ARBITRARY_RUNS },
    );
  });
});

describe('formatPath', () => {
  it('writes any path as one bounded line', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 2_000 }), fc.nat()), {
          maxLength: 12,
        }),
        (path) => {
          const text = formatPath(path);
          expect(text).not.toMatch(/[\n\r]/);
          expect(text.length).toBeLessThanOrEqual(1_024);
        },
      ),
      { numRuns: 300 },
    );
  });
});
