// The ExternalSecret's side of its target Secret: whether it must be written (from the data hash
// and what this process remembers of its last write), writing it with its owner, cleaning up
// after a rename, and removing it for deletionPolicy Delete. Counts each write in the metrics.
import { API_VERSION, type ExternalSecret, externalSecretTargetName } from '../../api/index.ts';
import { intern, resourceId } from '../../runtime/intern.ts';
import { ANNOTATIONS } from '../shared/constants.ts';
import {
  decodeDataBytes,
  deleteSecretIfOwned,
  releaseSecret,
  type SecretsApi,
  type SecretValue,
} from '../shared/secrets.ts';
import { dropRenamedTarget, type TargetReader, writeTarget } from '../shared/target.ts';
import { holdsValues, type Written, writeDecision } from './decide.ts';
import type { ExternalSecretMetrics } from './metrics.ts';

/** What one sync knows of its resource and target. */
export interface TargetSync {
  es: ExternalSecret;
  target: TargetReader;
  signal: AbortSignal;
}

export class TargetSecrets {
  readonly #core: SecretsApi;
  readonly #metrics: ExternalSecretMetrics;
  /** The Secret resourceVersion our last write left, per ExternalSecret (in memory only). */
  readonly #written = new Map<string, Written>();
  /** The data hash of a write sent and not answered yet, per ExternalSecret. */
  readonly #writing = new Map<string, string>();

  constructor(core: SecretsApi, metrics: ExternalSecretMetrics) {
    this.#core = core;
    this.#metrics = metrics;
  }

  /** Whether the Secret must be written (see `writeDecision`); compares values if it must. */
  async needsWrite(
    s: TargetSync,
    data: Readonly<Record<string, SecretValue>>,
    hash: string,
  ): Promise<boolean> {
    const id = resourceId(s.es.metadata);
    const seen = (await s.target.known()) ?? (await s.target.meta());
    const decision = writeDecision(s.es, hash, seen, this.#written.get(id));
    if (decision !== 'compare') return decision === 'write';
    // Unknown to this process, or changed since our write: compare the values themselves.
    const full = await s.target.full();
    if (!full) return true;
    const same = holdsValues(data, decodeDataBytes(full.data));
    if (same)
      this.#written.set(id, {
        resourceVersion: full.metadata?.resourceVersion,
        hash: intern(hash),
      });
    return !same;
  }

  /**
   * Applies the data; a Secret of ours whose type must change is recreated. When the reader
   * presumed the Secret absent, the write is create-only (refused, 409, if one exists).
   */
  async write(
    s: TargetSync,
    data: Readonly<Record<string, SecretValue>>,
    hash: string,
  ): Promise<void> {
    const { es, target: reader, signal } = s;
    const target = es.spec.target;
    const merge = target.creationPolicy === 'Merge';
    const template = target.template;
    const type = merge ? undefined : (template?.type ?? target.type ?? 'Opaque');
    const existing = await reader.known();
    signal.throwIfAborted();
    // The type of a Secret cannot change; one of ours is recreated with the new type.
    if (!merge && existing && existing.type !== undefined && existing.type !== type) {
      await deleteSecretIfOwned(this.#core, reader.namespace, reader.name);
      this.#metrics.secretWrites.inc({ operation: 'delete' });
    }
    const id = resourceId(es.metadata);
    if (!merge) this.#writing.set(id, hash);
    const written = await writeTarget(this.#core, {
      namespace: reader.namespace,
      name: reader.name,
      data,
      ...(type !== undefined ? { type } : {}),
      labels: over(target.labels, template?.metadata?.labels),
      annotations: over(target.annotations, template?.metadata?.annotations),
      ...(merge ? {} : { hash }),
      ...(reader.presumed ? { createOnly: true } : {}),
      ...(target.creationPolicy === 'Owner'
        ? {
            owner: {
              apiVersion: API_VERSION,
              kind: 'ExternalSecret',
              name: es.metadata.name,
              uid: es.metadata.uid ?? '',
            },
          }
        : {}),
    }).finally(() => this.#writing.delete(id));
    this.#metrics.secretWrites.inc({ operation: 'apply' });
    this.#written.set(id, {
      resourceVersion: written.metadata?.resourceVersion,
      hash: intern(hash),
    });
  }

  /** After spec.target.name changed, the Secret written under `oldName` is cleaned up. */
  async dropRenamed(s: TargetSync, oldName: string | undefined): Promise<void> {
    if (oldName === undefined || oldName === s.target.name) return;
    s.signal.throwIfAborted();
    const done = await dropRenamedTarget(this.#core, {
      namespace: s.target.namespace,
      oldName,
      policy: s.es.spec.target.creationPolicy,
      uid: s.es.metadata.uid ?? '',
    });
    if (done === 'deleted') this.#metrics.secretWrites.inc({ operation: 'delete' });
    if (done === 'released') this.#metrics.secretWrites.inc({ operation: 'release' });
  }

  /**
   * deletionPolicy Delete: deletes the Secret this resource created, or takes only its keys out
   * of a Secret someone else created (Merge). Returns words for the status message, the same
   * whether this call or an earlier one removed it.
   */
  async remove(es: ExternalSecret): Promise<string> {
    const namespace = es.metadata.namespace as string;
    const name = externalSecretTargetName(es);
    this.#written.delete(resourceId(es.metadata));
    if (es.spec.target.creationPolicy === 'Merge') {
      await releaseSecret(this.#core, namespace, name);
      this.#metrics.secretWrites.inc({ operation: 'release' });
      return `removed our keys from Secret ${name}`;
    }
    const ownerUid = es.spec.target.creationPolicy === 'Owner' ? es.metadata.uid : undefined;
    if (await deleteSecretIfOwned(this.#core, namespace, name, ownerUid)) {
      this.#metrics.secretWrites.inc({ operation: 'delete' });
    }
    return `deleted Secret ${name}`;
  }

  /**
   * Whether `secret` is as our last write of this resource's Secret left it (its
   * resourceVersion), or carries the data hash of the write being sent: the watch event that
   * follows our own write (it may come before the answer), which tells the resource nothing new.
   */
  wrote(
    id: string,
    secret: { metadata?: { resourceVersion?: string; annotations?: Record<string, string> } },
  ): boolean {
    const written = this.#written.get(id)?.resourceVersion;
    if (written !== undefined && written === secret.metadata?.resourceVersion) return true;
    const writing = this.#writing.get(id);
    return (
      writing !== undefined && secret.metadata?.annotations?.[ANNOTATIONS.dataHash] === writing
    );
  }

  forget(id: string): void {
    this.#written.delete(id);
  }
}

/** `top` over `base`; undefined when neither is set. */
function over(
  base: Record<string, string> | undefined,
  top: Record<string, string> | undefined,
): Record<string, string> | undefined {
  return base || top ? { ...base, ...top } : undefined;
}
