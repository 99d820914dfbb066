// Writing and reading the Kubernetes Secrets the operator manages, and the keyed hash that
// tells whether their data changed.
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import type { V1OwnerReference, V1Secret } from '@kubernetes/client-node';
import { isApiError } from '../../runtime/kube.ts';
import { type CoreApi, PatchType } from '../../runtime/kubeapi.ts';
import { ANNOTATIONS, FIELD_MANAGER, LABELS, MANAGED_BY_VALUE } from './constants.ts';

/** What `applySecret` needs of the core API (tests may hand in a fake). */
export type SecretsApi = Pick<
  CoreApi,
  'patchNamespacedSecret' | 'readNamespacedSecret' | 'deleteNamespacedSecret'
>;

export interface SecretOwner {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
}

/** A value for a Secret key: text (written as UTF-8) or bytes (written exactly). */
export type SecretValue = string | Uint8Array;

/** The bytes a value is written as. */
export function valueBytes(value: SecretValue): Buffer {
  return typeof value === 'string'
    ? Buffer.from(value, 'utf8')
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export interface ApplySecretOptions {
  namespace: string;
  name: string;
  /** Text or bytes; base64-encoded here. Keys not listed that we applied before are removed. */
  data: Readonly<Record<string, SecretValue>>;
  /** Omit to leave the type to whoever owns it (Merge mode); new Secrets default to Opaque. */
  type?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Sets a controller owner reference (creationPolicy Owner): GC deletes the Secret with it. */
  owner?: SecretOwner;
  fieldManager?: string;
  /** Creates the Secret; refused with 409 Conflict when one exists, whoever wrote it. */
  createOnly?: boolean;
}

const apply = PatchType.Apply;

/**
 * A resourceVersion no stored object has (etcd gives written keys revisions from 2 up). In an
 * apply it is a precondition only a create meets: the API server creates a Secret that does not
 * exist (preconditions are for updates) and refuses, 409 Conflict, to touch one that does, even
 * with `force`. The integration tests check both against the real API server.
 */
export const CREATE_ONLY_VERSION = '1';

/**
 * Server-side apply with force under our field manager: we own exactly the keys, labels and
 * annotations we send; other managers' fields stay. The managed-by label is always added so
 * the operator's metadata-only Secret informer sees the Secret. `createOnly` makes it a create
 * that owns its fields as an apply does (a later apply that drops a key removes it).
 */
export async function applySecret(
  core: SecretsApi,
  o: ApplySecretOptions,
): Promise<Pick<V1Secret, 'metadata'>> {
  const ownerReferences: V1OwnerReference[] | undefined = o.owner && [
    {
      apiVersion: o.owner.apiVersion,
      kind: o.owner.kind,
      name: o.owner.name,
      uid: o.owner.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const body: V1Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { ...o.labels, [LABELS.managedBy]: MANAGED_BY_VALUE },
      ...(o.annotations && Object.keys(o.annotations).length > 0
        ? { annotations: o.annotations }
        : {}),
      ...(ownerReferences ? { ownerReferences } : {}),
      ...(o.createOnly ? { resourceVersion: CREATE_ONLY_VERSION } : {}),
    },
    data: encodeData(o.data),
    ...(o.type !== undefined ? { type: o.type } : {}),
  };
  return core.patchNamespacedSecret(
    {
      name: o.name,
      namespace: o.namespace,
      body,
      fieldManager: o.fieldManager ?? FIELD_MANAGER,
      force: true,
    },
    apply,
    // The answer is the metadata only: the values just written do not come back into memory.
    'metadata',
  );
}

/**
 * Gives up every field our manager owns in a Secret someone else created (creationPolicy Merge
 * with deletion): our keys, labels and annotations go, theirs stay.
 */
export async function releaseSecret(
  core: SecretsApi,
  namespace: string,
  name: string,
  fieldManager: string = FIELD_MANAGER,
): Promise<void> {
  try {
    await core.patchNamespacedSecret(
      {
        name,
        namespace,
        body: { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace } },
        fieldManager,
        force: true,
      },
      apply,
      'metadata',
    );
  } catch (err) {
    if (!isApiError(err, 404)) throw err;
  }
}

export async function readSecret(
  core: SecretsApi,
  namespace: string,
  name: string,
): Promise<V1Secret | undefined> {
  try {
    return await core.readNamespacedSecret({ name, namespace });
  } catch (err) {
    if (isApiError(err, 404)) return undefined;
    throw err;
  }
}

/** Whether the operator wrote this Secret (it carries our managed-by label). */
export function isManagedSecret(secret: Pick<V1Secret, 'metadata'>): boolean {
  return secret.metadata?.labels?.[LABELS.managedBy] === MANAGED_BY_VALUE;
}

/** Whether `uid` is the controller owner of the Secret. */
export function isOwnedBy(secret: Pick<V1Secret, 'metadata'>, uid: string): boolean {
  return (secret.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid && ref.controller);
}

/**
 * Deletes the Secret only if we manage it (managed-by label) and, when `ownerUid` is given, only
 * if that object is its controller owner. The delete is conditioned on the UID read, so a Secret
 * recreated by someone in between is not touched. Returns whether it deleted something.
 */
export async function deleteSecretIfOwned(
  core: SecretsApi,
  namespace: string,
  name: string,
  ownerUid?: string,
): Promise<boolean> {
  const secret = await readSecret(core, namespace, name);
  if (!secret || !isManagedSecret(secret)) return false;
  if (ownerUid !== undefined && !isOwnedBy(secret, ownerUid)) return false;
  try {
    await core.deleteNamespacedSecret({
      name,
      namespace,
      body: { preconditions: { uid: secret.metadata?.uid } },
    });
    return true;
  } catch (err) {
    if (isApiError(err, 404) || isApiError(err, 409)) return false;
    throw err;
  }
}

export function encodeData(data: Readonly<Record<string, SecretValue>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data)) out[key] = valueBytes(value).toString('base64');
  return out;
}

/** A Secret's data as the bytes stored (binary-safe). */
export function decodeDataBytes(data: Record<string, string> | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [key, value] of Object.entries(data ?? {})) out[key] = Buffer.from(value, 'base64');
  return out;
}

export function decodeData(data: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data ?? {})) {
    out[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  return out;
}

export const HASH_PREFIX = 'hmac-sha256:';

/**
 * A keyed digest of a Secret's data: HMAC-SHA256 under a per-installation key over the keys and
 * values in key order, each length-prefixed so no two different maps encode the same. Without
 * the key a digest in status or an annotation cannot be used to test guesses of short values.
 */
export function hashData(data: Readonly<Record<string, SecretValue>>, key: Uint8Array): string {
  const mac = createHmac('sha256', keyObject(key));
  for (const name of Object.keys(data).sort()) {
    // Text is hashed as its UTF-8 bytes, so a digest does not depend on how a value is held.
    const bytes = valueBytes(data[name] as SecretValue);
    mac.update(`${Buffer.byteLength(name)}:${name}${bytes.length}:`);
    mac.update(bytes);
  }
  return `${HASH_PREFIX}${mac.digest('hex')}`;
}

/** The hash key as a KeyObject, made once per key rather than at every hash. */
const keyObjects = new WeakMap<Uint8Array, KeyObject>();
function keyObject(key: Uint8Array): KeyObject {
  let made = keyObjects.get(key);
  if (!made) {
    made = createSecretKey(key);
    keyObjects.set(key, made);
  }
  return made;
}

/** The data hash we stamped on a Secret when we last wrote it. */
export function secretDataHash(secret: Pick<V1Secret, 'metadata'> | undefined): string | undefined {
  return secret?.metadata?.annotations?.[ANNOTATIONS.dataHash];
}
