// In-memory stand-ins for the Kubernetes APIs the controllers write through, for unit tests:
// Secrets (server-side apply by field manager), the operator's custom resources (status,
// finalizers, optimistic concurrency), Events and rollout restarts. Each answers errors as
// the operator's REST client does (KubeHttpError with the HTTP status), so `isApiError` works on them.
import type { V1Secret, V1Status } from '@kubernetes/client-node';
import { KubeHttpError } from '../../../runtime/errors.ts';
import type { KubeObject } from '../../../runtime/informer.ts';
import { LABELS } from '../constants.ts';
import type { EventSubject, EventType } from '../events.ts';
import type { CustomResources, ResourceRef } from '../resources.ts';
import type { RolloutApi } from '../rollout.ts';
import type { SecretsApi } from '../secrets.ts';
import type { EventSink } from '../status.ts';
import type { FakeInformer } from './informer.ts';

const REASONS: Record<number, string> = { 404: 'NotFound', 409: 'Conflict', 403: 'Forbidden' };

/** The error the REST client throws for an HTTP error answer with this Status message. */
export function apiError(code: number, message: string): KubeHttpError {
  const reason = REASONS[code];
  return new KubeHttpError(code, reason, reason ? `${reason}: ${message}` : message);
}

let resourceVersions = 1000;
let uids = 0;

/** A process-wide counter, as the API server's: every write gets a higher one. */
function nextResourceVersion(): string {
  return String(++resourceVersions);
}

type SecretsRequest<M extends keyof SecretsApi> = Parameters<SecretsApi[M]>[0];

/** Which data keys, labels and annotations each field manager applied to a Secret. */
interface Owned {
  data: Set<string>;
  labels: Set<string>;
  annotations: Set<string>;
}

/**
 * Secrets with server-side apply semantics good enough for the controllers: an apply sets the
 * fields it sends and removes the ones the same manager sent before and no longer sends; other
 * managers' fields stay. `mirror` keeps a metadata informer in step, as the watch would.
 */
export class FakeSecrets implements SecretsApi {
  readonly #secrets = new Map<string, V1Secret>();
  readonly #owned = new Map<string, Map<string, Owned>>();
  readonly #failures: unknown[] = [];
  /** Every write, in order: `apply ns/name` or `delete ns/name`. */
  readonly writes: string[] = [];
  /** Applies refused for their resourceVersion precondition: `apply ns/name`. */
  readonly refused: string[] = [];
  reads = 0;
  #mirror: FakeInformer | undefined;

  /** Keeps `informer` (managed Secrets, metadata only) equal to what is stored. */
  mirror(informer: FakeInformer): this {
    this.#mirror = informer;
    return this;
  }

  /** A Secret someone else created (not a write of the code under test). */
  put(secret: V1Secret): V1Secret {
    const { namespace = '', name = '' } = secret.metadata ?? {};
    const stored: V1Secret = structuredClone(secret);
    stored.metadata = {
      ...stored.metadata,
      uid: stored.metadata?.uid ?? `secret-uid-${++uids}`,
      resourceVersion: nextResourceVersion(),
    };
    this.#store(namespace, name, stored);
    return structuredClone(stored);
  }

  get(namespace: string, name: string): V1Secret | undefined {
    const s = this.#secrets.get(`${namespace}/${name}`);
    return s && structuredClone(s);
  }

  /** The next write (apply or delete) fails with `err`. */
  failNextWrite(err: unknown): this {
    this.#failures.push(err);
    return this;
  }

  async readNamespacedSecret(req: SecretsRequest<'readNamespacedSecret'>): Promise<V1Secret> {
    this.reads++;
    const s = this.#secrets.get(`${req.namespace}/${req.name}`);
    if (!s) throw apiError(404, `secrets "${req.name}" not found`);
    return structuredClone(s);
  }

  async patchNamespacedSecret(req: SecretsRequest<'patchNamespacedSecret'>): Promise<V1Secret> {
    this.#failWrite();
    const id = `${req.namespace}/${req.name}`;
    const manager = req.fieldManager ?? 'unknown';
    const body = req.body as V1Secret;
    // A resourceVersion in an apply is a precondition (409 when it does not match); a Secret
    // that does not exist is created whatever it says.
    const expected = body.metadata?.resourceVersion;
    const existing = this.#secrets.get(id);
    if (existing && expected !== undefined && expected !== existing.metadata?.resourceVersion) {
      this.refused.push(`apply ${id}`);
      throw apiError(
        409,
        `Operation cannot be fulfilled on secrets "${req.name}": the object has been modified`,
      );
    }
    const current: V1Secret = structuredClone(existing) ?? {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: req.name, namespace: req.namespace, uid: `secret-uid-${++uids}` },
      type: 'Opaque',
    };
    const managers = this.#owned.get(id) ?? new Map<string, Owned>();
    const before = managers.get(manager);
    const meta = { ...current.metadata };
    const data = { ...current.data };
    const labels = { ...meta.labels };
    const annotations = { ...meta.annotations };
    for (const k of before?.data ?? []) delete data[k];
    for (const k of before?.labels ?? []) delete labels[k];
    for (const k of before?.annotations ?? []) delete annotations[k];
    Object.assign(data, body.data);
    Object.assign(labels, body.metadata?.labels);
    Object.assign(annotations, body.metadata?.annotations);
    managers.set(manager, {
      data: new Set(Object.keys(body.data ?? {})),
      labels: new Set(Object.keys(body.metadata?.labels ?? {})),
      annotations: new Set(Object.keys(body.metadata?.annotations ?? {})),
    });
    this.#owned.set(id, managers);
    const next: V1Secret = {
      ...current,
      metadata: {
        ...meta,
        labels,
        annotations,
        resourceVersion: nextResourceVersion(),
        ...(body.metadata?.ownerReferences
          ? { ownerReferences: body.metadata.ownerReferences }
          : {}),
      },
      data,
      ...(body.type !== undefined ? { type: body.type } : {}),
    };
    this.#store(req.namespace, req.name, next);
    this.writes.push(`apply ${id}`);
    return structuredClone(next);
  }

  async deleteNamespacedSecret(req: SecretsRequest<'deleteNamespacedSecret'>): Promise<V1Status> {
    this.#failWrite();
    const id = `${req.namespace}/${req.name}`;
    const s = this.#secrets.get(id);
    if (!s) throw apiError(404, `secrets "${req.name}" not found`);
    const uid = req.body?.preconditions?.uid;
    if (uid !== undefined && uid !== s.metadata?.uid) {
      throw apiError(409, `precondition failed: UID in precondition: ${uid}`);
    }
    this.#secrets.delete(id);
    this.#owned.delete(id);
    this.#mirror?.remove(req.namespace, req.name);
    this.writes.push(`delete ${id}`);
    return { status: 'Success' };
  }

  #store(namespace: string, name: string, secret: V1Secret): void {
    this.#secrets.set(`${namespace}/${name}`, secret);
    if (!this.#mirror) return;
    const { data: _d, ...metaOnly } = structuredClone(secret);
    if (secret.metadata?.labels?.[LABELS.managedBy]) {
      this.#mirror.put(metaOnly as KubeObject);
    } else {
      this.#mirror.remove(namespace, name);
    }
  }

  #failWrite(): void {
    if (this.#failures.length > 0) throw this.#failures.shift();
  }
}

type ResourcesApi = Pick<
  CustomResources,
  'read' | 'patchStatus' | 'replaceStatus' | 'setFinalizers'
>;

/**
 * The operator's custom resources: status through the subresource (merge patch or replace),
 * finalizers guarded by resourceVersion (409 on a mismatch), and deletion completing when the
 * last finalizer goes from an object being deleted.
 */
export class FakeResources implements ResourcesApi {
  readonly #objects = new Map<string, KubeObject>();
  /** Every write, in order: `{op, name, body}`. */
  readonly writes: Array<{
    op: 'patchStatus' | 'replaceStatus' | 'setFinalizers';
    name: string;
    body: unknown;
  }> = [];
  /** Calls to `read`. */
  reads = 0;

  /** Creates or replaces an object as a user would (new resourceVersion, uid kept or made). */
  put(kind: string, obj: KubeObject): KubeObject {
    const stored = structuredClone(obj);
    stored.metadata = {
      ...stored.metadata,
      uid: stored.metadata.uid ?? `uid-${++uids}`,
      resourceVersion: nextResourceVersion(),
    };
    this.#objects.set(this.#id(kind, stored.metadata.namespace, stored.metadata.name), stored);
    return structuredClone(stored);
  }

  /** A user's delete: marks an object with finalizers as being deleted, removes any other. */
  delete(kind: string, namespace: string | undefined, name: string, at: string): void {
    const id = this.#id(kind, namespace, name);
    const obj = this.#objects.get(id);
    if (!obj) return;
    if ((obj.metadata.finalizers ?? []).length === 0) {
      this.#objects.delete(id);
      return;
    }
    obj.metadata = {
      ...obj.metadata,
      deletionTimestamp: at,
      resourceVersion: nextResourceVersion(),
    };
  }

  get(kind: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const o = this.#objects.get(this.#id(kind, namespace, name));
    return o && structuredClone(o);
  }

  async read(ref: ResourceRef): Promise<unknown> {
    this.reads++;
    return this.get(ref.kind, ref.namespace, ref.name);
  }

  async patchStatus(ref: ResourceRef, status: Record<string, unknown>): Promise<unknown> {
    const obj = this.#existing(ref);
    const merged = mergePatch((obj as { status?: unknown }).status ?? {}, status);
    return this.#update(ref, 'patchStatus', status, { ...obj, status: merged });
  }

  async replaceStatus(ref: ResourceRef, status: Record<string, unknown>): Promise<unknown> {
    const obj = this.#existing(ref);
    return this.#update(ref, 'replaceStatus', status, { ...obj, status: structuredClone(status) });
  }

  async setFinalizers(
    ref: ResourceRef,
    finalizers: readonly string[],
    resourceVersion: string | undefined,
  ): Promise<unknown> {
    const obj = this.#existing(ref);
    if (resourceVersion !== undefined && resourceVersion !== obj.metadata.resourceVersion) {
      throw apiError(
        409,
        `the object has been modified; please apply your changes to the latest version`,
      );
    }
    const next = { ...obj, metadata: { ...obj.metadata, finalizers: [...finalizers] } };
    const result = await this.#update(ref, 'setFinalizers', finalizers, next);
    if (obj.metadata.deletionTimestamp && finalizers.length === 0) {
      this.#objects.delete(this.#id(ref.kind, ref.namespace, ref.name));
    }
    return result;
  }

  #existing(ref: ResourceRef): KubeObject {
    const obj = this.#objects.get(this.#id(ref.kind, ref.namespace, ref.name));
    if (!obj) throw apiError(404, `${ref.kind} "${ref.name}" not found`);
    return structuredClone(obj);
  }

  async #update(
    ref: ResourceRef,
    op: 'patchStatus' | 'replaceStatus' | 'setFinalizers',
    body: unknown,
    next: KubeObject,
  ): Promise<unknown> {
    next.metadata = { ...next.metadata, resourceVersion: nextResourceVersion() };
    this.#objects.set(this.#id(ref.kind, ref.namespace, ref.name), next);
    this.writes.push({ op, name: ref.name, body: structuredClone(body) });
    return structuredClone(next);
  }

  #id(kind: string, namespace: string | undefined, name: string): string {
    return `${kind}/${namespace ?? ''}/${name}`;
  }
}

/** RFC 7386 JSON merge patch: objects merge recursively, null removes, anything else replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) {
    return structuredClone(patch);
  }
  const out: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export interface RecordedEvent {
  object: string;
  type: EventType;
  reason: string;
  message: string;
}

/** Records Events instead of writing them. */
export class FakeEvents implements EventSink {
  readonly recorded: RecordedEvent[] = [];

  record(subject: EventSubject, type: EventType, reason: string, message: string): void {
    this.recorded.push({ object: subject.metadata.name, type, reason, message });
  }

  reasons(): string[] {
    return this.recorded.map((e) => e.reason);
  }
}

type RolloutRequest = Parameters<RolloutApi['patchNamespacedDeployment']>[0];

/** Workloads that exist, and the restart patches they received (`Deployment/ns/name`). */
export class FakeRollout implements RolloutApi {
  readonly #existing: Set<string>;
  readonly patched: string[] = [];

  constructor(existing: string[] = []) {
    this.#existing = new Set(existing);
  }

  async patchNamespacedDeployment(req: RolloutRequest) {
    return this.#patch('Deployment', req);
  }

  async patchNamespacedStatefulSet(req: RolloutRequest) {
    return this.#patch('StatefulSet', req);
  }

  async patchNamespacedDaemonSet(req: RolloutRequest) {
    return this.#patch('DaemonSet', req);
  }

  #patch(kind: string, req: RolloutRequest) {
    const id = `${kind}/${req.namespace}/${req.name}`;
    if (!this.#existing.has(id)) throw apiError(404, `${kind} "${req.name}" not found`);
    this.patched.push(id);
    return { metadata: { name: req.name, namespace: req.namespace } };
  }
}
