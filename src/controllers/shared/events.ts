// Kubernetes Events for the resources the operator reconciles (core/v1, what `kubectl describe`
// shows). Repeats are folded into one Event with a count, as client-go's recorder does, so a
// resource failing every few seconds does not flood etcd. Events are best effort and paced: a
// burst (10,000 resources becoming Ready at the first sync) must not take the API server's write
// capacity from the Secrets themselves.
import { randomBytes } from 'node:crypto';
import type { CoreV1Event } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import { type CoreApi, PatchType } from '../../runtime/kubeapi.ts';
import type { Logger } from '../../runtime/logger.ts';
import { METRIC_PREFIX } from '../../runtime/metrics.ts';
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
/**
 * Event writes (creates and repeat patches together) per second, and the burst: client-go's
 * clients default to 5 requests/s for everything; Events get 10/s of their own here.
 */
export const EVENT_RATE = { qps: 10, burst: 100 } as const;
/** Events of one type waiting for their turn; beyond that, new ones are dropped and counted. */
export const MAX_WAITING_EVENTS = 1_000;
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
  /** Where `events_dropped_total` is registered (none: not counted). */
  registry?: Registry;
  /** Pace of Event writes (default EVENT_RATE). */
  rate?: { qps: number; burst: number };
}

/**
 * Turns to write an Event: a token bucket on the injected clock, Warning Events served before
 * Normal ones, and at most MAX_WAITING_EVENTS waiting per type (a turn is refused beyond).
 */
class EventPacer {
  readonly #clock: Clock;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;
  readonly #waiting: Record<EventType, Array<() => void>> = { Warning: [], Normal: [] };
  #timer: (() => void) | undefined;

  constructor(clock: Clock, rate: { qps: number; burst: number }) {
    this.#clock = clock;
    this.#qps = rate.qps;
    this.#burst = rate.burst;
    this.#tokens = rate.burst;
    this.#last = clock.now();
  }

  /** Resolves at this Event's turn; undefined when too many of its type wait already. */
  turn(type: EventType): Promise<void> | undefined {
    this.#refill();
    const idle = this.#waiting.Warning.length === 0 && this.#waiting.Normal.length === 0;
    if (idle && this.#tokens >= 1) {
      this.#tokens -= 1;
      return Promise.resolve();
    }
    const queue = this.#waiting[type];
    if (queue.length >= MAX_WAITING_EVENTS) return undefined;
    const turn = new Promise<void>((resolve) => queue.push(resolve));
    this.#schedule();
    return turn;
  }

  #refill(): void {
    const now = this.#clock.now();
    this.#tokens = Math.min(
      this.#burst,
      this.#tokens + (Math.max(0, now - this.#last) / 1000) * this.#qps,
    );
    this.#last = now;
  }

  #schedule(): void {
    if (this.#timer) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.#tokens) / this.#qps) * 1000));
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      this.#refill();
      while (this.#tokens >= 1) {
        const next = this.#waiting.Warning.shift() ?? this.#waiting.Normal.shift();
        if (!next) break;
        this.#tokens -= 1;
        next();
      }
      if (this.#waiting.Warning.length > 0 || this.#waiting.Normal.length > 0) this.#schedule();
    }, waitMs);
  }
}

export class EventRecorder {
  readonly #api: EventsApi;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #recent = new Map<string, Recent>();
  /** One write at a time per (object, reason, message), so a repeat patches the right Event. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #pacer: EventPacer;
  readonly #dropped: Counter<'type'> | undefined;
  #warnedAt = Number.NEGATIVE_INFINITY;

  constructor(options: EventRecorderOptions) {
    this.#api = options.api;
    this.#clock = options.clock;
    this.#log = options.log.child({ component: 'events' });
    this.#instance = options.instance ?? process.env.POD_NAME ?? COMPONENT;
    this.#pacer = new EventPacer(options.clock, options.rate ?? EVENT_RATE);
    this.#dropped = options.registry
      ? new Counter({
          name: `${METRIC_PREFIX}events_dropped_total`,
          help: `Events not written because more than ${MAX_WAITING_EVENTS} of their type were waiting for their turn (Events are written at most ${EVENT_RATE.qps}/s, bursts of ${EVENT_RATE.burst}).`,
          labelNames: ['type'],
          registers: [options.registry],
        })
      : undefined;
  }

  /**
   * Records an Event, fire-and-forget: failures are logged, never thrown. `message` must be
   * built from codes and names, never from secret values.
   */
  record(obj: EventSubject, type: EventType, reason: string, message: string): void {
    const text = message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 3)}...` : message;
    const id = `${obj.metadata.uid ?? `${obj.metadata.namespace}/${obj.metadata.name}`}|${reason}|${text}`;
    const turn = this.#pacer.turn(type);
    if (!turn) {
      this.#dropped?.inc({ type });
      const now = this.#clock.now();
      if (now - this.#warnedAt >= 60_000) {
        this.#warnedAt = now;
        this.#log.warn(
          { waiting: MAX_WAITING_EVENTS, type },
          'too many Events waiting to be written: new ones are dropped (counted in events_dropped_total) until the backlog clears',
        );
      }
      return;
    }
    const previous = this.#chains.get(id) ?? Promise.resolve();
    const next = Promise.all([previous, turn])
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
