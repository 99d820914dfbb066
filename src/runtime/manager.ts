import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config/config.ts';
import { type Clock, realClock } from './clock.ts';
import { describeError } from './errors.ts';
import { HealthChecks, healthRoutes, metricsRoutes, type RunningServer, serve } from './http.ts';
import { Informer, type KubeObject } from './informer.ts';
import { type KubeClient, ownNamespace } from './kube.ts';
import { type ElectionEnd, KubeLeaseStore, LeaderElector, type LeaseStore } from './leader.ts';
import { KubeListWatchClient, type ListWatchClient, type ResourceType } from './listwatch.ts';
import type { Logger } from './logger.ts';
import { createMetrics, type RuntimeMetrics } from './metrics.ts';
import { Controller, type Reconciler } from './reconciler.ts';

export interface ManagerOptions {
  config: Config;
  kubeConfig: KubeClient;
  log: Logger;
  clock?: Clock;
  /** Shared with the Secrets Manager client so `/metrics` serves both. */
  metrics?: RuntimeMetrics;
  /** Leader election identity; default `<hostname>_<uuid>` as client-go makes it. */
  identity?: string;
  /** Replaces the Kubernetes Lease (tests). */
  leaseStore?: LeaseStore;
  /** Replaces the API server for informers (tests). */
  listWatchClient?: ListWatchClient;
}

export interface InformerRequest<T extends KubeObject> {
  type: ResourceType;
  /** Default: the configured `--watch-namespaces` (all when empty). */
  namespaces?: readonly string[];
  /** Pass `manager.config.labelSelector` for the sharded custom resources. */
  labelSelector?: string;
  fieldSelector?: string;
  /** Watch metadata only (PartialObjectMetadata); for Secrets, to keep memory flat. */
  metadataOnly?: boolean;
  parse?: (raw: unknown) => T;
}

export type ExitReason = 'stopped' | 'leader-lost';

export interface ManagerExit {
  reason: ExitReason;
  /** False when some reconciles were still running at the shutdown deadline. */
  drained: boolean;
}

export class ManagerError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'ManagerError';
    this.code = code;
  }
}

/**
 * Runs the operator: metrics and health servers, informers (started on every replica so a
 * standby has warm caches), leader election, and controllers (only while leading, only after
 * the caches synced), with a bounded graceful shutdown: stop taking work, finish in-flight
 * reconciles, release the Lease, stop watches, close the servers.
 */
export class Manager {
  readonly config: Config;
  readonly kubeConfig: KubeClient;
  readonly log: Logger;
  readonly clock: Clock;
  readonly metrics: RuntimeMetrics;
  readonly health = new HealthChecks();
  readonly identity: string;
  readonly #listWatch: ListWatchClient;
  readonly #leaseStore: LeaseStore | undefined;
  readonly #informers: Array<Informer<KubeObject>> = [];
  readonly #controllers: Controller[] = [];
  readonly #leaderWork: Array<(signal: AbortSignal) => Promise<void>> = [];
  readonly #servers: RunningServer[] = [];
  readonly #electionStop = new AbortController();
  readonly #workStop = new AbortController();
  #elector: LeaderElector | undefined;
  #election: Promise<ElectionEnd> | undefined;
  #leading: Promise<void> | undefined;
  #addresses: { metrics?: string; health?: string } = {};
  #started = false;
  #stopping = false;
  #exit: Promise<ManagerExit> | undefined;
  #resolveExit: (exit: ManagerExit) => void = () => {};
  readonly #exited: Promise<ManagerExit>;

  constructor(options: ManagerOptions) {
    this.config = options.config;
    this.kubeConfig = options.kubeConfig;
    this.log = options.log;
    this.clock = options.clock ?? realClock;
    this.metrics = options.metrics ?? createMetrics();
    this.identity = options.identity ?? `${hostname()}_${randomUUID()}`;
    this.#listWatch = options.listWatchClient ?? new KubeListWatchClient(options.kubeConfig);
    this.#leaseStore = options.leaseStore;
    this.#exited = new Promise((resolve) => {
      this.#resolveExit = resolve;
    });
    this.health.addHealthz('ping', () => true);
    this.health.addReadyz('shutdown', () => (this.#stopping ? 'shutting down' : true));
    this.health.addReadyz('informers', () => {
      const waiting = this.#informers.filter((i) => !i.hasSynced).map((i) => i.resource);
      return waiting.length === 0 ? true : `caches not synced: ${waiting.join(', ')}`;
    });
    this.health.addReadyz('leader-election', () => {
      const state = this.#elector?.state;
      if (!this.config.leaderElection.enabled || state === 'leading' || state === 'standby')
        return true;
      return `election state ${state ?? 'not started'}`;
    });
  }

  /** An informer started with the manager; register before `start`. */
  informer<T extends KubeObject = KubeObject>(request: InformerRequest<T>): Informer<T> {
    if (this.#started) throw new ManagerError('STARTED', 'add informers before the manager starts');
    const resource = request.type.group
      ? `${request.type.plural}.${request.type.group}`
      : request.type.plural;
    const informer = new Informer<T>({
      client: this.#listWatch,
      clock: this.clock,
      log: this.log,
      type: request.type,
      namespaces: request.namespaces ?? this.config.watchNamespaces,
      labelSelector: request.labelSelector,
      fieldSelector: request.fieldSelector,
      metadataOnly: request.metadataOnly,
      parse: request.parse,
      resyncPeriodMs: this.config.resyncPeriodMs,
      onRestart: (reason) => this.metrics.informerRestarts.inc({ resource, reason }),
    });
    this.#informers.push(informer as unknown as Informer<KubeObject>);
    return informer;
  }

  /** A controller run while leading; wire it with `controller.watch(informer, {map, filter})`. */
  controller(reconciler: Reconciler, options: { concurrency?: number } = {}): Controller {
    if (this.#started)
      throw new ManagerError('STARTED', 'add controllers before the manager starts');
    const controller = new Controller({
      reconciler,
      clock: this.clock,
      log: this.log,
      metrics: this.metrics,
      concurrency: options.concurrency ?? this.config.concurrency,
    });
    this.#controllers.push(controller);
    return controller;
  }

  /**
   * Work that runs beside the controllers while this replica leads (after the caches synced);
   * `signal` aborts when leading ends or the manager stops.
   */
  whileLeading(work: (signal: AbortSignal) => Promise<void>): void {
    if (this.#started) throw new ManagerError('STARTED', 'add work before the manager starts');
    this.#leaderWork.push(work);
  }

  /** Addresses actually bound (`host:port`), once started. */
  get addresses(): { metrics?: string; health?: string } {
    return { ...this.#addresses };
  }

  /** Serves, starts informers and the election (or leads at once without election). */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    const { config, log } = this;
    // Resolve the Lease first: a missing namespace is a configuration error, found before binding.
    const store = config.leaderElection.enabled
      ? (this.#leaseStore ?? this.#kubeLeaseStore())
      : undefined;
    try {
      if (config.metricsBindAddress) {
        const server = await serve(config.metricsBindAddress, metricsRoutes(this.metrics.registry));
        this.#servers.push(server);
        this.#addresses.metrics = server.address;
        log.info({ address: server.address }, 'serving metrics');
      }
      if (config.healthProbeBindAddress) {
        const server = await serve(config.healthProbeBindAddress, healthRoutes(this.health));
        this.#servers.push(server);
        this.#addresses.health = server.address;
        log.info({ address: server.address }, 'serving health probes');
      }
    } catch (err) {
      await Promise.all(this.#servers.map((s) => s.close()));
      throw new ManagerError('BIND', `cannot listen: ${describeError(err).message}`);
    }
    for (const informer of this.#informers) informer.start();

    if (!store) {
      this.#leading = this.#lead(this.#workStop.signal);
      return;
    }
    this.#elector = new LeaderElector({
      store,
      identity: this.identity,
      clock: this.clock,
      log: log.child({ component: 'leader-election' }),
      leaseDurationMs: config.leaderElection.leaseDurationMs,
      renewDeadlineMs: config.leaderElection.renewDeadlineMs,
      retryPeriodMs: config.leaderElection.retryPeriodMs,
      onStartedLeading: (signal) => {
        this.#leading = this.#lead(AbortSignal.any([signal, this.#workStop.signal]));
      },
      onStoppedLeading: () => this.metrics.leader.set(0),
    });
    this.#election = this.#elector.run(this.#electionStop.signal);
    this.#election.then(
      (end) => {
        if (end === 'lost') void this.stop('leader-lost');
      },
      (err: unknown) => {
        log.error({ err: describeError(err) }, 'leader election failed');
        void this.stop('leader-lost');
      },
    );
  }

  /** Resolves when the manager has stopped (after `stop`, a signal, or losing the Lease). */
  wait(): Promise<ManagerExit> {
    return this.#exited;
  }

  /** Graceful, bounded by `--shutdown-timeout`; idempotent. */
  stop(reason: ExitReason = 'stopped'): Promise<ManagerExit> {
    this.#exit ??= this.#shutdown(reason);
    return this.#exit;
  }

  get leaderElector(): LeaderElector | undefined {
    return this.#elector;
  }

  #kubeLeaseStore(): LeaseStore {
    const namespace = this.config.leaderElection.namespace ?? ownNamespace();
    if (!namespace) {
      throw new ManagerError(
        'LEADER_ELECTION_NAMESPACE',
        'leader election needs a namespace for its Lease: pass --leader-election-namespace ' +
          '(or SMO_LEADER_ELECTION_NAMESPACE) when not running in a cluster',
      );
    }
    return new KubeLeaseStore(this.kubeConfig, namespace, this.config.leaderElection.id);
  }

  async #lead(signal: AbortSignal): Promise<void> {
    this.metrics.leader.set(1);
    // Caches still waiting for their first list may be deep in backoff after an outage.
    for (const informer of this.#informers) if (!informer.hasSynced) informer.retryNow();
    try {
      await Promise.all(this.#informers.map((i) => i.waitForSync(signal)));
    } catch {
      return; // stopped or lost before the caches synced
    }
    this.log.info(
      { controllers: this.#controllers.map((c) => c.name) },
      'caches synced; starting controllers',
    );
    await Promise.all([
      ...this.#controllers.map((c) => c.run(signal)),
      ...this.#leaderWork.map((work) =>
        work(signal).catch((err: unknown) => {
          this.log.error({ err: describeError(err) }, 'work run while leading failed');
        }),
      ),
    ]);
  }

  async #shutdown(reason: ExitReason): Promise<ManagerExit> {
    this.#stopping = true;
    const { clock, log } = this;
    const deadline = clock.now() + this.config.shutdownTimeoutMs;
    const remaining = () => Math.max(0, deadline - clock.now());
    log.info({ reason, timeoutMs: this.config.shutdownTimeoutMs }, 'shutting down');

    // 1. No new work; in-flight reconciles get until the deadline, then their signal aborts.
    const results = await Promise.all(this.#controllers.map((c) => c.shutdown(remaining())));
    this.#workStop.abort(new Error('manager stopping'));
    await this.#within(this.#leading ?? Promise.resolve(), remaining());
    // 2. Release the Lease only once no reconcile of ours is running any more.
    this.#electionStop.abort(new Error('manager stopping'));
    if (this.#election) await this.#within(this.#election, remaining());
    this.metrics.leader.set(0);
    // 3. Watches and servers.
    await this.#within(Promise.all(this.#informers.map((i) => i.stop())), remaining());
    await Promise.all(this.#servers.map((s) => s.close()));
    const exit: ManagerExit = { reason, drained: results.every((r) => r.drained) };
    log.info(exit, 'stopped');
    this.#resolveExit(exit);
    return exit;
  }

  /** Waits for `promise` at most `ms`. */
  async #within(promise: Promise<unknown>, ms: number): Promise<void> {
    let cancel = () => {};
    await Promise.race([
      promise.catch(() => {}),
      new Promise<void>((resolve) => {
        cancel = this.clock.setTimeout(resolve, ms);
      }),
    ]);
    cancel();
  }
}
