// The one status writer of the three controllers. A reconcile computes the whole status it wants;
// the writer compares it with the status it started from, writes only a difference through the
// status subresource, records an Event when Ready changes, and remembers its own write.
//
// The stale-cache rule every controller follows: a reconcile reads its object from the informer
// cache, through `view`, which puts back the status this process wrote last when the cache has
// not caught up with it (only the operator writes status, so its own last write is the newest).
// The one exception is a decision that cannot be undone, minting an IAM credential: the lease
// controller reads its object from the API server for that (see lease/reconciler.ts).
import { isDeepStrictEqual } from 'node:util';
import { API_VERSION, type Kind } from '../../api/group.ts';
import { type Condition, findCondition, READY } from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { resourceId } from '../../runtime/intern.ts';
import type { EventSubject, EventType } from './events.ts';
import type { CustomResources, ResourceRef } from './resources.ts';

/** How long a status write of ours is recognised when its watch event comes back. */
export const ECHO_WINDOW_MS = 30_000;

/** The object whose status is written, as read. */
export interface StatusSubject {
  apiVersion?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
  };
  status?: unknown;
}

export interface EventSink {
  record(subject: EventSubject, type: EventType, reason: string, message: string): void;
}

export type StatusApi = Pick<CustomResources, 'patchStatus' | 'replaceStatus'>;

export interface StatusWriterOptions {
  kind: Kind;
  resources: StatusApi;
  events: EventSink;
  clock: Clock;
  /**
   * `merge`: a JSON merge patch of the fields that changed (removed fields as null);
   * `replace`: the whole status in one JSON patch (the lease's status is its crash record).
   */
  mode: 'merge' | 'replace';
  /**
   * Record an Event when Ready changes status or reason (default true). The lease controller
   * records an Event for each thing that happened instead (Leased, Renewed, ...), so it turns
   * this off rather than say the same thing twice.
   */
  readyEvents?: boolean;
  /**
   * Write only if the object is still at the resourceVersion it was read at (409 Conflict
   * otherwise), so two writers that both believe they lead cannot both act on one state.
   */
  conditional?: boolean;
}

interface Remembered {
  uid: string | undefined;
  status: unknown;
  resourceVersion: string | undefined;
  at: number;
}

export type Status = Record<string, unknown>;

/** A status write sent and not answered yet: its watch event may come before the answer. */
interface InFlight {
  uid: string | undefined;
  status: Status;
  /** What else the written-from object said that a reconcile acts on (see `actedOn`). */
  acted: string;
}

export class StatusWriter {
  readonly #o: StatusWriterOptions;
  readonly #written = new Map<string, Remembered>();
  readonly #inflight = new Map<string, InFlight>();

  constructor(options: StatusWriterOptions) {
    this.#o = options;
  }

  /**
   * Writes `next` as the status of `obj` when it differs from `obj.status`. Returns the
   * resourceVersion of the write, or undefined when nothing needed writing. Throws the signal's
   * reason, without writing, once `signal` has aborted.
   */
  async write(
    obj: StatusSubject,
    next: Status,
    signal?: AbortSignal,
  ): Promise<{ written: boolean; resourceVersion?: string }> {
    const before = asStatus(obj.status);
    const after = compact(next);
    if (isDeepStrictEqual(before, after)) return { written: false };
    signal?.throwIfAborted();
    const ref = this.#ref(obj);
    const version = this.#o.conditional ? obj.metadata.resourceVersion : undefined;
    const id = idOf(obj);
    const inflight: InFlight = { uid: obj.metadata.uid, status: after, acted: actedOn(obj) };
    this.#inflight.set(id, inflight);
    let response: { status?: unknown; metadata?: { resourceVersion?: string } } | undefined;
    try {
      response = (await (this.#o.mode === 'replace'
        ? this.#o.resources.replaceStatus(ref, after, version)
        : this.#o.resources.patchStatus(ref, mergePatchOf(before, after), version))) as
        | typeof response
        | undefined;
    } finally {
      if (this.#inflight.get(id) === inflight) this.#inflight.delete(id);
    }
    const resourceVersion = response?.metadata?.resourceVersion;
    this.#written.set(id, {
      uid: obj.metadata.uid,
      status: response?.status ?? after,
      resourceVersion,
      at: this.#o.clock.now(),
    });
    if (this.#o.readyEvents !== false) this.#readyEvent(obj, before, after);
    return { written: true, ...(resourceVersion ? { resourceVersion } : {}) };
  }

  /**
   * `obj` with the status this process wrote last, when the cache has not caught up yet. Once
   * the cache holds the version we wrote, the remembered status is dropped: it is in the cache,
   * and keeping one status per resource for the life of the process is what made memory grow
   * with the number of resources.
   */
  view<T extends StatusSubject>(obj: T): T {
    const id = idOf(obj);
    const mine = this.#written.get(id);
    if (!mine || mine.uid !== obj.metadata.uid) return obj;
    if (mine.resourceVersion && mine.resourceVersion === obj.metadata.resourceVersion) {
      this.#written.delete(id);
      return obj;
    }
    return { ...obj, status: mine.status };
  }

  /**
   * Whether a watch event of `obj` is the echo of our own status write (nothing to do). The
   * informer caches the event's object before asking, so an echo also ends the need to remember
   * that write.
   */
  isOwnEcho(obj: StatusSubject): boolean {
    const id = idOf(obj);
    // The event can come before the write's answer (another connection, a loaded process): it
    // is ours when only the status changed, to exactly what we are writing.
    const sending = this.#inflight.get(id);
    if (
      sending &&
      sending.uid === obj.metadata.uid &&
      sending.acted === actedOn(obj) &&
      isDeepStrictEqual(asStatus(obj.status), sending.status)
    ) {
      return true;
    }
    const mine = this.#written.get(id);
    if (!mine?.resourceVersion) return false;
    if (mine.resourceVersion !== obj.metadata.resourceVersion) return false;
    if (mine.uid === obj.metadata.uid) this.#written.delete(id);
    return this.#o.clock.now() - mine.at <= ECHO_WINDOW_MS;
  }

  /** Writes remembered because the cache has not shown them yet (tests, memory checks). */
  get remembered(): number {
    return this.#written.size;
  }

  /** Drops what is remembered of a deleted object. */
  forget(obj: { metadata: { namespace?: string; name: string } }): void {
    this.#written.delete(idOf(obj));
  }

  #readyEvent(obj: StatusSubject, before: Status, after: Status): void {
    const previous = findCondition(before.conditions as Condition[] | undefined, READY);
    const ready = findCondition(after.conditions as Condition[] | undefined, READY);
    if (!ready) return;
    if (previous?.status === ready.status && previous?.reason === ready.reason) return;
    this.#o.events.record(
      {
        apiVersion: obj.apiVersion ?? API_VERSION,
        kind: this.#o.kind,
        metadata: obj.metadata,
      },
      ready.status === 'True' ? 'Normal' : 'Warning',
      ready.reason,
      ready.message,
    );
  }

  #ref(obj: StatusSubject): ResourceRef {
    return {
      kind: this.#o.kind,
      name: obj.metadata.name,
      ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
    };
  }
}

/**
 * Everything besides status that a reconcile acts on: spec (through generation), annotations
 * (force-sync), labels, finalizers and deletion. An event that changed any of these is not an
 * echo of a status write, whatever its status says.
 */
function actedOn(obj: StatusSubject): string {
  const m = obj.metadata as StatusSubject['metadata'] & {
    generation?: number;
    annotations?: unknown;
    labels?: unknown;
    finalizers?: unknown;
    deletionTimestamp?: unknown;
  };
  return JSON.stringify([m.generation, m.annotations, m.labels, m.finalizers, m.deletionTimestamp]);
}

function idOf(obj: { metadata: { namespace?: string; name: string } }): string {
  return resourceId(obj.metadata);
}

function asStatus(value: unknown): Status {
  return typeof value === 'object' && value !== null ? compact(value as Status) : {};
}

/** Without top-level fields that are undefined or null (absent, as the API server stores it). */
function compact(status: Status): Status {
  const out: Status = {};
  for (const [key, value] of Object.entries(status)) {
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/** A JSON merge patch from `before` to `after` at the top level (lists are replaced whole). */
export function mergePatchOf(before: Status, after: Status): Status {
  const patch: Status = {};
  for (const [key, value] of Object.entries(after)) {
    if (!isDeepStrictEqual(before[key], value)) patch[key] = value;
  }
  for (const key of Object.keys(before)) {
    if (!(key in after)) patch[key] = null;
  }
  return patch;
}
