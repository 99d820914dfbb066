// The target Secret of an ExternalSecret or a lease: who it belongs to, writing it with its
// owner, and cleaning up the Secret left under an old name after spec.target.name changed.
import type { V1Secret } from '@kubernetes/client-node';
import { ANNOTATIONS } from './constants.ts';
import {
  applySecret,
  deleteSecretIfOwned,
  isManagedSecret,
  readSecret,
  releaseSecret,
  type SecretOwner,
  type SecretsApi,
  type SecretValue,
} from './secrets.ts';

/** Who holds an existing Secret, seen from the resource with `uid`. */
export type TargetOwnership =
  /** No such Secret. */
  | 'absent'
  /** Not written by this operator (no managed-by label). */
  | 'foreign'
  /** Ours, and `uid` is its controller owner. */
  | 'self'
  /** Ours, with another controller owner (another resource writes it). */
  | 'other'
  /** Ours, without a controller owner (creationPolicy Orphan, or released). */
  | 'unowned';

export function targetOwnership(
  secret: Pick<V1Secret, 'metadata'> | undefined,
  uid: string,
): TargetOwnership {
  if (!secret) return 'absent';
  if (!isManagedSecret(secret)) return 'foreign';
  const owners = (secret.metadata?.ownerReferences ?? []).filter((ref) => ref.controller);
  if (owners.some((ref) => ref.uid === uid)) return 'self';
  return owners.length > 0 ? 'other' : 'unowned';
}

export interface TargetWrite {
  namespace: string;
  name: string;
  data: Readonly<Record<string, SecretValue>>;
  /** Undefined leaves the type to whoever owns the Secret (Merge). */
  type?: string;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  /** Stamped as the data-hash annotation, to notice edits and skip equal writes. */
  hash?: string;
  /** The controller owner reference (garbage collection deletes the Secret with it). */
  owner?: SecretOwner;
  /** Creates the Secret and refuses (409) if one exists, whoever wrote it. */
  createOnly?: boolean;
}

/** Applies the target Secret (server-side apply under the operator's field manager). */
export function writeTarget(core: SecretsApi, t: TargetWrite): Promise<Pick<V1Secret, 'metadata'>> {
  return applySecret(core, {
    namespace: t.namespace,
    name: t.name,
    data: t.data,
    ...(t.type !== undefined ? { type: t.type } : {}),
    ...(t.labels ? { labels: t.labels } : {}),
    annotations: {
      ...t.annotations,
      ...(t.hash !== undefined ? { [ANNOTATIONS.dataHash]: t.hash } : {}),
    },
    ...(t.owner ? { owner: t.owner } : {}),
    ...(t.createOnly ? { createOnly: true } : {}),
  });
}

/**
 * After spec.target.name changed, the Secret under the old name: deleted when `uid` owns it
 * (`Owner`), released (our fields taken out) when it was someone else's (`Merge`), left alone
 * otherwise (`Orphan`). Returns what was done.
 */
export async function dropRenamedTarget(
  core: SecretsApi,
  o: { namespace: string; oldName: string; policy: 'Owner' | 'Merge' | 'Orphan'; uid: string },
): Promise<'deleted' | 'released' | 'none'> {
  if (o.policy === 'Owner') {
    return (await deleteSecretIfOwned(core, o.namespace, o.oldName, o.uid)) ? 'deleted' : 'none';
  }
  if (o.policy === 'Merge') {
    await releaseSecret(core, o.namespace, o.oldName);
    return 'released';
  }
  return 'none';
}

/**
 * The target Secret as one reconcile sees it, read from the API server at most once: metadata
 * comes from the label-scoped informer cache when the Secret is there, and the first call that
 * needs more (or finds nothing in the cache) GETs it and keeps the answer. A sync about to write
 * may instead presume that a Secret the cache does not show does not exist (`presumeAbsent`):
 * its write is then create-only, and a refused one reads the Secret (`look`) and goes on as if
 * it had been read first. A first sync of a new resource thus costs no read.
 */
export class TargetReader {
  readonly #core: SecretsApi;
  readonly #cache: { get(namespace: string, name: string): unknown } | undefined;
  readonly namespace: string;
  readonly name: string;
  #read: Promise<V1Secret | undefined> | undefined;
  #presumed = false;

  constructor(
    core: SecretsApi,
    namespace: string,
    name: string,
    cache?: { get(namespace: string, name: string): unknown },
  ) {
    this.#core = core;
    this.#cache = cache;
    this.namespace = namespace;
    this.name = name;
  }

  /** Metadata (labels, annotations, owners, resourceVersion); undefined: it does not exist. */
  async meta(): Promise<Pick<V1Secret, 'metadata' | 'type'> | undefined> {
    if (this.#read) return this.#read;
    const cached = this.#cache?.get(this.namespace, this.name) as
      | Pick<V1Secret, 'metadata'>
      | undefined;
    return cached ?? this.full();
  }

  /** The whole Secret, data included, as the API server has it. */
  full(): Promise<V1Secret | undefined> {
    this.#read ??= readSecret(this.#core, this.namespace, this.name);
    return this.#read;
  }

  /** The whole Secret if this reconcile already read it. */
  async known(): Promise<V1Secret | undefined> {
    return this.#read ? this.#read : undefined;
  }

  /**
   * When nothing was read yet and the cache shows no Secret of ours by this name, takes it that
   * none exists, without a read (the cache holds every Secret this operator wrote). Someone
   * else's Secret, or ours that the cache does not show yet, may exist all the same: a write
   * that presumed must be create-only (`presumed`).
   */
  presumeAbsent(): void {
    if (this.#read || !this.#cache || this.#cache.get(this.namespace, this.name) !== undefined) {
      return;
    }
    this.#read = Promise.resolve(undefined);
    this.#presumed = true;
  }

  /** Whether what this reader says rests on `presumeAbsent`, not on a read. */
  get presumed(): boolean {
    return this.#presumed;
  }

  /** A presumption was refused (a create-only write found a Secret): reads it now. */
  look(): Promise<V1Secret | undefined> {
    this.#presumed = false;
    this.#read = undefined;
    return this.full();
  }
}
