// Reads what an ExternalSecret asks for from Secrets Manager and flattens it into the string
// map of the target Secret. All or nothing: one failing source fails the whole fetch, so a
// partial Secret is never written. Failures carry names, IDs and codes only, never values.
import {
  type DataFromItem,
  type DataItem,
  type DecodingStrategy,
  type ExternalSecretSpec,
  type ExtractSource,
  type FindSource,
  SECRET_KEY_PATTERN,
} from '../../api/index.ts';
import {
  isForbidden,
  isInvalidRequest,
  isNotFound,
  isSecretsManagerError,
  type RemoteSecret,
  type RequestOptions,
  type SecretRef,
  type SecretsManagerClient,
  type SecretsManagerError,
  secretFields,
} from '../../secretsmanager/index.ts';
import { byCodeUnit } from '../shared/order.ts';
import type { SecretValue } from '../shared/secrets.ts';
import { decodeValue } from './decode.ts';
import { isCertificateSecret, TLS_SECRET_TYPE, tlsEntries } from './tls.ts';

export type FetchFailure =
  /** Some remote secret does not exist; `allGone` when no source exists any more. */
  | { kind: 'notFound'; allGone: boolean; message: string }
  /** The spec asks for something the API cannot serve (a version, a bad key): not retried. */
  | { kind: 'invalid'; message: string }
  /** An iam_credentials secret that mints a key on every read: not retried. */
  | { kind: 'mintsKeys'; message: string }
  /** The secret exists but lacks the field, or a key is not a valid Secret key. */
  | { kind: 'content'; message: string }
  /** Secrets Manager refused access (403 after a fresh login). */
  | { kind: 'forbidden'; message: string }
  /** Anything else from the remote side (5xx, 429, timeouts, auth): retried with backoff. */
  | { kind: 'remote'; message: string; error: SecretsManagerError | undefined };

/** What a fetch reads through: a store's view (see store/view.ts) or the client itself. */
export type SecretReader = Pick<
  SecretsManagerClient,
  'getSecret' | 'getSecretMetadata' | 'listSecrets'
>;

export type FetchResult =
  | { ok: true; data: Record<string, SecretValue>; reads: number }
  | { ok: false; failure: FetchFailure };

class Failed extends Error {
  readonly failure: FetchFailure;

  constructor(failure: FetchFailure) {
    super(failure.message);
    this.failure = failure;
  }
}

const SECRET_KEY_RE = new RegExp(SECRET_KEY_PATTERN);

type RefLike = {
  type: SecretRef['type'];
  id?: string | undefined;
  name?: string | undefined;
  group?: string | undefined;
  version?: string | undefined;
};

export function describeRef(ref: RefLike): string {
  const which = ref.id !== undefined ? `id ${ref.id}` : `"${ref.name}"`;
  const group = ref.group && ref.group !== 'default' ? ` in group ${ref.group}` : '';
  return `${ref.type} secret ${which}${group}`;
}

function toSecretRef(ref: RefLike): SecretRef {
  return {
    type: ref.type,
    ...(ref.id !== undefined ? { id: ref.id } : {}),
    ...(ref.name !== undefined ? { name: ref.name } : {}),
    ...(ref.group !== undefined ? { group: ref.group } : {}),
    ...(ref.version !== undefined ? { version: ref.version } : {}),
  };
}

/**
 * The secrets `spec` names directly (`data` references and `dataFrom.extract`), which a store's
 * view can read ahead of a sync; `dataFrom.find` depends on lists and is left to the fetch.
 */
export function directRefs(spec: ExternalSecretSpec): SecretRef[] {
  const refs = (spec.data ?? []).map((item) => toSecretRef(item.remoteRef));
  for (const item of spec.dataFrom ?? []) if (item.extract) refs.push(toSecretRef(item.extract));
  return refs;
}

/**
 * Fetches every source of `spec` through `client`: `dataFrom` entries in order (a later one
 * wins on a key), then `data` entries (which win over dataFrom). Each distinct secret is read
 * once per fetch, so an iam_credentials secret named twice still mints at most one key.
 */
export async function fetchSecretData(
  client: SecretReader,
  spec: Pick<ExternalSecretSpec, 'data' | 'dataFrom'> & { target?: { type?: string | undefined } },
  opts: RequestOptions = {},
): Promise<FetchResult> {
  const tls = spec.target?.type === TLS_SECRET_TYPE;
  const reads = new Map<string, Promise<RemoteSecret | undefined>>();
  const missing = new Set<string>();
  const present = new Set<string>();
  let iamChain: Promise<unknown> = Promise.resolve();
  let minted: FetchFailure | undefined;
  /** Reads a secret once per fetch; `required` secrets count as missing when they are gone. */
  const read: Reader = async (ref, required) => {
    const key = JSON.stringify([
      ref.type,
      ref.id ?? null,
      ref.name ?? null,
      ref.group ?? 'default',
      ref.version ?? 'current',
    ]);
    let pending = reads.get(key);
    if (!pending) {
      if (ref.type === 'iam_credentials') {
        // One at a time, and none after one that minted a key: two references to the same
        // secret (by ID and by name) must not mint two keys.
        pending = iamChain.then(() => {
          if (minted) throw new Failed(minted);
          return readOne(client, ref, opts).catch((err: unknown) => {
            if (err instanceof Failed && err.failure.kind === 'mintsKeys') minted = err.failure;
            throw err;
          });
        });
        iamChain = pending.catch(() => undefined);
      } else {
        pending = readOne(client, ref, opts);
      }
      reads.set(key, pending);
    }
    const secret = await pending;
    if (secret) present.add(key);
    else if (required) missing.add(key);
    return secret;
  };

  try {
    const fromParts = await Promise.all(
      (spec.dataFrom ?? []).map((item) => dataFromEntries(client, item, read, opts, tls)),
    );
    const itemParts = await Promise.all(
      (spec.data ?? []).map(async (item) => dataEntry(item, await read(item.remoteRef, true))),
    );
    if (missing.size > 0) {
      const allGone = present.size === 0;
      throw new Failed({
        kind: 'notFound',
        allGone,
        message: allGone
          ? 'no remote secret this resource reads exists in Secrets Manager any more'
          : `${missing.size} of the remote secrets this resource reads ${missing.size === 1 ? 'does' : 'do'} not exist in Secrets Manager`,
      });
    }
    const data: Record<string, SecretValue> = {};
    for (const part of fromParts) Object.assign(data, part);
    for (const part of itemParts) if (part) data[part[0]] = part[1];
    return { ok: true, data, reads: reads.size };
  } catch (err) {
    if (err instanceof Failed) return { ok: false, failure: err.failure };
    return { ok: false, failure: remoteFailure(err) };
  }
}

type Reader = (ref: RefLike, required: boolean) => Promise<RemoteSecret | undefined>;

async function readOne(
  client: SecretReader,
  ref: RefLike,
  opts: RequestOptions,
): Promise<RemoteSecret | undefined> {
  let secret: RemoteSecret;
  try {
    // Metadata first: a read of credentials that are not reused mints a key, which a refusal
    // must not leave behind. A metadata read never mints.
    if (ref.type === 'iam_credentials') {
      const meta = await client.getSecretMetadata(toSecretRef(ref), opts);
      if (meta.reuseApiKey !== true) throw new Failed(mintsKeys(ref));
    }
    secret = await client.getSecret(toSecretRef(ref), opts);
  } catch (err) {
    if (err instanceof Failed) throw err;
    if (isNotFound(err)) return undefined;
    if (isInvalidRequest(err)) {
      throw new Failed({ kind: 'invalid', message: `${describeRef(ref)}: ${err.message}` });
    }
    if (isForbidden(err)) {
      throw new Failed({
        kind: 'forbidden',
        message: `Secrets Manager denied access to ${describeRef(ref)}: ${err.message}`,
      });
    }
    throw err;
  }
  // The setting may change between the two reads: the value itself says what was handed out.
  if (secret.type === 'iam_credentials' && secret.credentials.reuseApiKey !== true) {
    throw new Failed(mintsKeys(ref));
  }
  return secret;
}

function mintsKeys(ref: RefLike): FetchFailure {
  return {
    kind: 'mintsKeys',
    message:
      `${describeRef(ref)} mints a new API key on every read (reuse_api_key is not set), so ` +
      'an ExternalSecret would leave unrevoked keys behind on each refresh; nothing was ' +
      'read or written and it is not read again until this spec changes. Use an ' +
      'IAMCredentialLease, which renews and revokes the keys, or set reuse_api_key on the secret.',
  };
}

/** The value of one `data` entry, or undefined when its secret is gone. */
function dataEntry(
  item: DataItem,
  secret: RemoteSecret | undefined,
): [string, SecretValue] | undefined {
  if (!secret) return undefined;
  const { property } = item.remoteRef;
  const value = property === undefined ? wholeValue(secret) : pickProperty(secret, property);
  if (value === undefined) {
    throw new Failed({
      kind: 'content',
      message: `${describeRef(item.remoteRef)} has no field "${property}" (spec.data key ${item.secretKey})`,
    });
  }
  return [
    item.secretKey,
    decoded(value, item.decodingStrategy, () => {
      return `the value of ${describeRef(item.remoteRef)} for spec.data key ${item.secretKey}`;
    }),
  ];
}

/** `value` decoded as `strategy` says, or a content failure naming `what` (never the value). */
function decoded(
  value: string,
  strategy: DecodingStrategy | undefined,
  what: () => string,
): SecretValue {
  const result = decodeValue(value, strategy);
  if (!result.ok) throw new Failed({ kind: 'content', message: `${what()} ${result.message}` });
  return result.value;
}

async function dataFromEntries(
  client: SecretReader,
  item: DataFromItem,
  read: Reader,
  opts: RequestOptions,
  tls: boolean,
): Promise<Record<string, SecretValue>> {
  const entries = await dataFromText(client, item, read, opts, tls);
  if ((item.decodingStrategy ?? 'None') === 'None') return entries;
  const source = item.extract ? describeRef(item.extract) : 'a dataFrom.find';
  const out: Record<string, SecretValue> = {};
  for (const [key, value] of Object.entries(entries)) {
    out[key] = decoded(value, item.decodingStrategy, () => `key ${key} from ${source}`);
  }
  return out;
}

async function dataFromText(
  client: SecretReader,
  item: DataFromItem,
  read: Reader,
  opts: RequestOptions,
  tls: boolean,
): Promise<Record<string, string>> {
  if (item.extract) return extractEntries(item.extract, await read(item.extract, true), tls);
  if (item.find) return findEntries(client, item.find, read, opts);
  return {};
}

function extractEntries(
  source: ExtractSource,
  secret: RemoteSecret | undefined,
  tls = false,
): Record<string, string> {
  if (!secret) return {};
  const prefix = source.keyPrefix ?? '';
  // A certificate extracted whole into a kubernetes.io/tls Secret: its tls.* keys.
  if (tls && prefix === '' && isCertificateSecret(secret)) {
    const entries = tlsEntries(secret);
    if (!entries.ok) {
      throw new Failed({ kind: 'content', message: `${describeRef(source)} ${entries.message}` });
    }
    return entries.data;
  }
  const out: Record<string, string> = {};
  for (const [field, value] of Object.entries(secretFields(secret))) {
    out[validKey(`${prefix}${field}`, describeRef(source))] = value;
  }
  return out;
}

async function findEntries(
  client: SecretReader,
  source: FindSource,
  read: Reader,
  opts: RequestOptions,
): Promise<Record<string, string>> {
  const listed = await client.listSecrets(
    {
      ...(source.type !== undefined ? { type: source.type } : {}),
      ...(source.group !== undefined ? { group: source.group } : {}),
      ...(source.labels !== undefined ? { labels: source.labels } : {}),
      ...(source.name !== undefined ? { nameRegex: new RegExp(source.name.regexp, 'u') } : {}),
    },
    opts,
  );
  // Dynamic credentials only when asked for by type: listing must never mint keys by accident.
  const matches = listed
    .filter((m) => source.type !== undefined || m.type !== 'iam_credentials')
    .sort((a, b) => byCodeUnit(a.name, b.name) || byCodeUnit(a.id, b.id));
  const prefix = source.keyPrefix ?? '';
  const values = await Promise.all(
    matches.map(async (m) => {
      const ref = {
        type: m.type,
        id: m.id,
        ...(m.groupId !== 'default' ? { group: m.groupId } : {}),
      };
      const secret = await read(ref, false);
      return secret ? ([m.name, wholeValue(secret)] as const) : undefined;
    }),
  );
  const out: Record<string, string> = {};
  for (const entry of values) {
    // Deleted between the list and the read: simply no longer matches.
    if (!entry) continue;
    out[validKey(`${prefix}${entry[0]}`, `find result ${entry[0]}`)] = entry[1];
  }
  return out;
}

function validKey(key: string, source: string): string {
  if (key.length > 253 || !SECRET_KEY_RE.test(key)) {
    throw new Failed({
      kind: 'content',
      message: `${source} yields the key "${key.slice(0, 64)}", which is not a valid Secret key (letters, digits, "-", "_", ".")`,
    });
  }
  return key;
}

/** What a `data` entry without `property` (and a `find` match) writes. */
export function wholeValue(secret: RemoteSecret): string {
  switch (secret.type) {
    case 'arbitrary':
      return secret.payload;
    case 'kv':
      return JSON.stringify(secret.payload);
    case 'service_credentials':
      return JSON.stringify(secret.credentials);
    default:
      return JSON.stringify(secretFields(secret));
  }
}

/** One field of a secret; kv and service_credentials take a dotted path into their JSON. */
export function pickProperty(secret: RemoteSecret, property: string): string | undefined {
  if (secret.type === 'kv') return pickPath(secret.payload, property);
  if (secret.type === 'service_credentials') return pickPath(secret.credentials, property);
  return secretFields(secret)[property];
}

function pickPath(root: Record<string, unknown>, path: string): string | undefined {
  const value = Object.hasOwn(root, path) ? root[path] : walk(root, path.split('.'));
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function walk(node: unknown, segments: string[]): unknown {
  let current = node;
  for (const segment of segments) {
    if (Array.isArray(current) && /^\d+$/.test(segment)) current = current[Number(segment)];
    else if (current !== null && typeof current === 'object' && Object.hasOwn(current, segment)) {
      current = (current as Record<string, unknown>)[segment];
    } else return undefined;
  }
  return current;
}

function remoteFailure(err: unknown): FetchFailure {
  if (isSecretsManagerError(err)) {
    return { kind: 'remote', message: err.message, error: err };
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : 'unexpected failure';
  return { kind: 'remote', message, error: undefined };
}
