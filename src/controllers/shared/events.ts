// Kubernetes Events for the resources the operator reconciles (core/v1, what `kubectl describe`
// shows). Repeats are folded into one Event with a count, as client-go's recorder does, so a
// resource failing every few seconds does not flood etcd.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import { type CoreApi, PatchType } from '../../runtime/kubeapi.ts';
import type { Logger } from '../../runtime/logger.ts';
import { COMPONENT } from './constants.ts';

export type EventType = 'Normal' | 'Warning';

/** The object an Event is about. */
export interface EventSubject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string };
}

/** Where Events of cluster-scoped objects go, as kubectl and client-go put them. */
const CLUSTER_EVENTS_NAMESPACE = 'default';
const REPEAT_WINDOW_MS = 10 * 60_000;
const MAX_TRACKED = 10_000;
const MAX_MESSAGE = 1024;
const mergePatch = PatchType.Merge;

interface Recent {
  namespace: string;
  name: string;
  count: number;
  at: number;
}

/** The part of the core API the recorder uses; tests hand in a fake. */
export type EventsApi = Pick<CoreApi, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

export interface EventRecorderOptions {
  /** The API server's core/v1 (`KubeClient.core`), or a fake in tests. */
  api: EventsApi;
  clock: Clock;
  log: Logger;
  /** `reportingInstance`, e.g. the pod name. */
  instance?: string;
}

export class EventRecorder {
  readonly #api: EventsApi;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #recent = new Map<string, Recent>();
  /** One write at a time per (object, reason, message), so a repeat patches the right Event. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: EventRecorderOptions) {
    this.#api = options.api;
    this.#clock = options.clock;
    this.#log = options.log.child({ component: 'events' });
    this.#instance = options.instance ?? process.env.POD_NAME ?? COMPONENT;
  }

  /**
   * Records an Event, fire-and-forget: failures are logged, never thrown. `message` must be
   * built from codes and names, never from secret values.
   */
  record(obj: EventSubject, type: EventType, reason: string, message: string): void {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
    const id = `${obj.metadata.uid ?? `${obj.metadata.namespace}/${obj.metadata.name}`}|${reason}|${text}`;
    const previous = this.#chains.get(id) ?? Promise.resolve();
    const next = previous
      .then(() => this.#write(id, obj, type, reason, text))
      .catch((err: unknown) => {
        this.#log.warn(
          { err: describeError(err), reason, object: obj.metadata.name },
          'cannot record an Event',
        );
      })
      .finally(() => {
        if (this.#chains.get(id) === next) this.#chains.delete(id);
      });
    this.#chains.set(id, next);
  }

  /** Resolves when every Event recorded so far has been written (tests, shutdown). */
  async flush(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }

  async #write(
    id: string,
    obj: EventSubject,
    type: EventType,
    reason: string,
    message: string,
  ): Promise<void> {
    const now = this.#clock.now();
    this.#prune(now);
    const recent = this.#recent.get(id);
    if (recent && now - recent.at < REPEAT_WINDOW_MS) {
      const count = recent.count + 1;
      try {
        await this.#api.patchNamespacedEvent(
          {
            name: recent.name,
            namespace: recent.namespace,
            body: { count, lastTimestamp: new Date(now).toISOString() },
          },
          mergePatch,
        );
        this.#recent.set(id, { ...recent, count, at: now });
        return;
      } catch (err) {
        // Gone (expired by the API server's event TTL): start a new one below.
        if ((err as { code?: unknown }).code !== 404) throw err;
      }
    }
    const namespace = obj.metadata.namespace ?? CLUSTER_EVENTS_NAMESPACE;
    const name = `${obj.metadata.name}.${randomBytes(8).toString('hex')}`;
    const at = new Date(now);
    const body: CoreV1Event = {
      metadata: { name, namespace },
      involvedObject: {
        ...(obj.apiVersion ? { apiVersion: obj.apiVersion } : {}),
        ...(obj.kind ? { kind: obj.kind } : {}),
        name: obj.metadata.name,
        ...(obj.metadata.namespace ? { namespace: obj.metadata.namespace } : {}),
        ...(obj.metadata.uid ? { uid: obj.metadata.uid } : {}),
        ...(obj.metadata.resourceVersion ? { resourceVersion: obj.metadata.resourceVersion } : {}),
      },
      type,
      reason,
      message,
      count: 1,
      firstTimestamp: at,
      lastTimestamp: at,
      source: { component: COMPONENT },
      reportingComponent: COMPONENT,
      reportingInstance: this.#instance,
    };
    await this.#api.createNamespacedEvent({ namespace, body });
    this.#recent.set(id, { namespace, name, count: 1, at: now });
  }

  #prune(now: number): void {
    if (this.#recent.size < MAX_TRACKED) return;
    for (const [id, entry] of this.#recent) {
      if (now - entry.at >= REPEAT_WINDOW_MS) this.#recent.delete(id);
    }
    // Still full (a storm of distinct Events): forget the oldest half.
    if (this.#recent.size >= MAX_TRACKED) {
      let drop = Math.floor(this.#recent.size / 2);
      for (const id of this.#recent.keys()) {
        if (drop-- <= 0) break;
        this.#recent.delete(id);
      }
    }
  }
}
