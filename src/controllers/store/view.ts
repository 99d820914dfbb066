// A store's shared view of Secrets Manager, the remote counterpart of an informer. Every remote
// secret that an ExternalSecret references is read once and its value shared by every resource
// that references it; the Vault API's list of each secret type the store needs is polled, and
// only secrets whose last_update_date moved (or that vanished) are read again and their
// resources re-synced. Values live in this process's memory only.
//
// Two kinds of reads never go through the view: iam_credentials (a read mints a key that one
// resource alone must own) and versions other than `current` (read as asked, every time).
import type { Cancel, Clock } from '../../runtime/clock.ts';
import { shareFlat } from '../../runtime/intern.ts';
import type { Logger } from '../../runtime/logger.ts';
import {
  isNotFound,
  type ListFilter,
  type RemoteSecret,
  type RequestOptions,
  type SecretMetadata,
  type SecretRef,
  type SecretsManagerClient,
  type SecretType,
} from '../../secretsmanager/index.ts';
import {
  idOrName,
  LISTABLE,
  type Listing,
  listChanged,
  nameKey,
  type SourceState,
  sourceKey,
  stateOf,
  untilAborted,
  viaView,
} from './view-keys.ts';
import type { RemoteViewMetrics } from './view-metrics.ts';
import { type Flight, settled, ValueReads, type Warmer } from './view-reads.ts';

export { type SourceState, sourceKey, viaView } from './view-keys.ts';

/** What the ExternalSecret fetch reads through: the view, or the client itself. */
export type SecretReader = Pick<
  SecretsManagerClient,
  'getSecret' | 'getSecretMetadata' | 'listSecrets'
>;

export interface ViewReader {
  reader: SecretReader;
  /** The secrets read (through the view) so far, to record in status and track. */
  sources(): SourceState[];
}

export interface RemoteViewOptions {
  client: SecretsManagerClient;
  clock: Clock;
  /** How often the lists are polled; 0: never (values are then re-read when stale only). */
  pollIntervalMs: number;
  /** The store, as the `store` metric label and in logs. */
  store: string;
  metrics: RemoteViewMetrics;
  log: Logger;
  /** Resources (`namespace/name`) whose sources changed remotely. */
  onChange: (resources: string[]) => void;
}

interface Entry {
  secret: RemoteSecret;
  readAt: number;
  updated: string | undefined;
  /** The list showed another last_update_date than the value's: read again before use. */
  stale: boolean;
}

interface Tracked {
  sources: SourceState[];
  /** Secret types this resource's dataFrom.find lists ('*': every type but iam_credentials). */
  finds: readonly SecretType[];
}

const NO_FINDS: readonly SecretType[] = Object.freeze([]);

/** How long a value no resource has synced from yet is kept (see #sweep). */
const UNCLAIMED_KEEP_MS = 10 * 60_000;

/** The first poll after a view starts (restart: rotations made while down show up soon). */
const FIRST_POLL_MAX_MS = 5_000;

/**
 * Value reads handed to the client at once: as many as the store's rate limit serves in this
 * long (at least MIN_ADMITTED). The rest wait here as a key each, not as a request each
 * (headers, URL, retry state: ~3 KB apiece), and the client's queue stays short for the
 * requests that do not go through the view (lease credentials, pinned versions, the lists).
 */
const ADMIT_AHEAD_MS = 1_000;
const MIN_ADMITTED = 8;

export class RemoteView {
  readonly #o: RemoteViewOptions;
  readonly #entries = new Map<string, Entry>();
  /** Name references resolved to the canonical (ID) key. */
  readonly #aliases = new Map<string, string>();
  readonly #reads: ValueReads;
  readonly #tracked = new Map<string, Tracked>();
  /** Canonical key -> resources whose recorded sources include it. */
  readonly #users = new Map<string, Set<string>>();
  readonly #listings = new Map<SecretType, Listing>();
  readonly #listing = new Map<SecretType, Promise<Listing>>();
  /** Resources flagged by a poll and not synced since. */
  readonly #changed = new Set<string>();
  #timer: Cancel | undefined;
  #stopped = false;
  #lastPoll = 0;
  #listFailing = false;

  constructor(options: RemoteViewOptions) {
    this.#o = options;
    this.#reads = new ValueReads(
      () => this.#admitLimit(),
      (f) => this.#fetchValue(f.ref, f.key, f.reason),
    );
    if (options.pollIntervalMs > 0) {
      this.#schedule(Math.min(options.pollIntervalMs, FIRST_POLL_MAX_MS));
    }
  }

  /** The store's ID (storeId). */
  get store(): string {
    return this.#o.store;
  }

  get pollIntervalMs(): number {
    return this.#o.pollIntervalMs;
  }

  get client(): SecretsManagerClient {
    return this.#o.client;
  }

  /**
   * Whether reads started now would wait a second or more for the store's rate limit: a first
   * sync of thousands of resources at the provider's pace.
   */
  get backlogged(): boolean {
    return this.#reads.waiting > 0 || (this.#o.client.backlogMs ?? 0) >= 1_000;
  }

  /** Number of values held. */
  get size(): number {
    return this.#entries.size;
  }

  /** Stops polling and drops every value (the store changed or went away). */
  stop(): void {
    this.#stopped = true;
    this.#timer?.();
    // Reads waiting for their turn go on as they would have (their readers are waiting).
    this.#reads.flush();
    this.#entries.clear();
    this.#aliases.clear();
    this.#tracked.clear();
    this.#users.clear();
    this.#listings.clear();
    this.#changed.clear();
    this.#o.metrics.entries.set({ store: this.#o.store }, 0);
  }

  /**
   * A reader for one sync of `resource`: values no older than `maxAgeMs` (0: read now, shared
   * with reads already in flight), current as far as the last list showed.
   */
  reader(maxAgeMs: number): ViewReader {
    const used = new Map<string, SourceState>();
    const client = this.#o.client;
    const reader: SecretReader = {
      getSecret: async (ref, opts) => {
        // The one branch around the view: minting and non-current reads go to the client.
        if (!viaView(ref)) return client.getSecret(ref, opts);
        const secret = await this.#read(ref, maxAgeMs, opts);
        const m = secret.metadata;
        used.set(sourceKey(m.type, m.groupId, m.id), stateOf(m));
        return secret;
      },
      getSecretMetadata: (ref, opts) => client.getSecretMetadata(ref, opts),
      listSecrets: (filter, opts) => this.#list(filter ?? {}, maxAgeMs, opts),
    };
    return { reader, sources: () => [...used.values()] };
  }

  /**
   * Starts the reads a sync with `maxAgeMs` would wait for among `refs` (never read, changed,
   * too old; shared with reads in flight) and calls `done` once they all finished, failed or
   * not. False (and `done` is not called) when every value is at hand. A resource calls this
   * before it syncs, so that it waits for the store's rate limit without holding a worker; a
   * waiting resource costs a counter, not a promise per reference.
   */
  warm(refs: SecretRef[], maxAgeMs: number, done: () => void): boolean {
    const now = this.#o.clock.now();
    const warmer: Warmer = { remaining: 0, done };
    for (const ref of refs) {
      if (!viaView(ref)) continue;
      const key =
        ref.id !== undefined
          ? sourceKey(ref.type, ref.group, ref.id)
          : this.#aliases.get(nameKey(ref.type, ref.group, ref.name ?? ''));
      if (key === undefined) {
        // A name not resolved yet (the list may be needed): the reader's own path.
        warmer.remaining++;
        const done = () => settled(warmer);
        this.#read(ref, maxAgeMs, undefined).then(done, done);
        continue;
      }
      const entry = this.#entries.get(key);
      if (isFresh(entry, maxAgeMs, now)) continue;
      warmer.remaining++;
      this.#flight(ref, key, readReason(entry, maxAgeMs)).warmers.push(warmer);
    }
    return warmer.remaining > 0;
  }

  /**
   * Records what `resource` synced from (after a sync, or from its status after a restart) and
   * which types its dataFrom.find lists; clears a change flagged for it when `synced`. Values
   * no resource references any more are dropped.
   */
  track(resource: string, sources: SourceState[], finds: SecretType[], synced: boolean): void {
    const before = this.#tracked.get(resource);
    // Kept for as long as the resource exists: the sources as the shared copies its cached
    // status holds too (thousands of resources read the same secrets), no array for no finds.
    this.#tracked.set(resource, {
      sources: sources.map(shareFlat),
      finds: finds.length > 0 ? finds : NO_FINDS,
    });
    if (synced) this.#changed.delete(resource);
    const now = new Set(sources.map((s) => sourceKey(s.type, s.group, s.id)));
    for (const key of now) {
      let users = this.#users.get(key);
      if (!users) {
        users = new Set();
        this.#users.set(key, users);
      }
      users.add(resource);
    }
    for (const s of before?.sources ?? []) {
      const key = sourceKey(s.type, s.group, s.id);
      if (!now.has(key)) this.#unuse(key, resource);
    }
  }

  /** Whether `resource` is tracked here. */
  tracks(resource: string): boolean {
    return this.#tracked.has(resource);
  }

  /** Forgets a resource (deleted, or now on another store). */
  release(resource: string): void {
    const before = this.#tracked.get(resource);
    if (!before) return;
    this.#tracked.delete(resource);
    this.#changed.delete(resource);
    for (const s of before.sources) this.#unuse(sourceKey(s.type, s.group, s.id), resource);
  }

  /**
   * Whether the remote side moved since `resource` recorded `sources`: a poll flagged it, or the
   * last list of a type shows another last_update_date for a source (or does not show it).
   */
  changed(resource: string, sources: SourceState[]): boolean {
    if (this.#changed.has(resource)) return true;
    return sources.some((s) => {
      const listing = this.#listings.get(s.type);
      if (!listing) return false;
      const listed = listing.byKey.get(sourceKey(s.type, s.group, s.id));
      return !listed || listed.updatedAt !== s.lastUpdateDate;
    });
  }

  /** One poll now (the timer calls this; tests too). */
  async poll(): Promise<void> {
    if (this.#stopped) return;
    const types = new Set<SecretType>();
    for (const t of this.#tracked.values()) {
      for (const s of t.sources) if (viaView(s)) types.add(s.type);
      for (const f of t.finds) types.add(f);
    }
    const flagged = new Set<string>();
    for (const type of types) {
      const previous = this.#listings.get(type);
      let listing: Listing;
      try {
        listing = await this.#fetchListing(type);
      } catch (err) {
        if (this.#stopped) return;
        // Said once until a list works again: without lists, changes wait for refreshes.
        const level = this.#listFailing ? 'debug' : 'warn';
        this.#listFailing = true;
        this.#o.log[level](
          { err, type },
          'change detection: listing secrets failed (the key may lack the Reader role); changes show at each refresh until a list works',
        );
        continue;
      }
      this.#listFailing = false;
      if (this.#stopped) return;
      await this.#compare(type, previous, listing, flagged);
    }
    this.#lastPoll = this.#o.clock.now();
    this.#sweep();
    if (flagged.size > 0) {
      for (const r of flagged) this.#changed.add(r);
      this.#o.onChange([...flagged]);
    }
  }

  // --- reads ---------------------------------------------------------------------------------

  async #read(ref: SecretRef, maxAgeMs: number, opts: RequestOptions | undefined) {
    const key = await this.#resolve(ref, opts);
    const entry = key === undefined ? undefined : this.#entries.get(key);
    if (entry && isFresh(entry, maxAgeMs, this.#o.clock.now())) return entry.secret;
    const flight = this.#flight(ref, key, readReason(entry, maxAgeMs));
    return untilAborted(this.#reads.result(flight), opts?.signal);
  }

  /**
   * The read of `ref` asked for and not finished, shared by every caller; a new one goes to the
   * client when fewer than about a second of reads are there (see ADMIT_AHEAD_MS), else waits.
   */
  #flight(ref: SecretRef, key: string | undefined, reason: string): Flight {
    return this.#reads.start(key ?? nameKey(ref.type, ref.group, ref.name ?? ''), ref, key, reason);
  }

  #admitLimit(): number {
    const qps = this.#o.client.requestsPerSecond;
    return qps === undefined ? Infinity : Math.max(MIN_ADMITTED, (qps * ADMIT_AHEAD_MS) / 1000);
  }

  async #fetchValue(ref: SecretRef, key: string | undefined, reason: string) {
    const { client, metrics, store } = this.#o;
    metrics.valueReads.inc({ store, reason });
    // Read by ID once the ID is known: one path, one entry, however the resource named it.
    const target: SecretRef =
      key !== undefined && ref.id === undefined
        ? { type: ref.type, id: this.#idOf(key), ...(ref.group ? { group: ref.group } : {}) }
        : { type: ref.type, ...idOrName(ref), ...(ref.group ? { group: ref.group } : {}) };
    let secret: RemoteSecret;
    try {
      secret = await client.getSecret(target);
    } catch (err) {
      if (isNotFound(err) && key !== undefined) this.#drop(key);
      throw err;
    }
    if (this.#stopped) return secret;
    const m = secret.metadata;
    const canonical = sourceKey(m.type, m.groupId, m.id);
    this.#aliases.set(nameKey(m.type, m.groupId, m.name), canonical);
    this.#entries.set(canonical, {
      secret,
      readAt: this.#o.clock.now(),
      updated: m.updatedAt,
      stale: false,
    });
    metrics.entries.set({ store }, this.#entries.size);
    return secret;
  }

  /** The canonical key of a reference, resolving a name through the list when needed. */
  async #resolve(ref: SecretRef, opts: RequestOptions | undefined): Promise<string | undefined> {
    if (ref.id !== undefined) return sourceKey(ref.type, ref.group, ref.id);
    const alias = nameKey(ref.type, ref.group, ref.name ?? '');
    const known = this.#aliases.get(alias);
    if (known !== undefined) return known;
    // The list names both ID and name: a name and an ID of the same secret share one entry.
    // Without polling there is no list to lean on; the read by name teaches the alias.
    if (this.#o.pollIntervalMs === 0) return undefined;
    let listing: Listing;
    try {
      listing = await untilAborted(this.#listingFor(ref.type, Infinity), opts?.signal);
    } catch {
      return undefined;
    }
    const group = ref.group && ref.group !== '' ? ref.group : 'default';
    const hit = listing.all.find((m) => m.name === ref.name && m.groupId === group);
    if (!hit) return undefined;
    const key = sourceKey(hit.type, hit.groupId, hit.id);
    this.#aliases.set(alias, key);
    return key;
  }

  #idOf(key: string): string {
    return key.split('\u0000')[2] ?? '';
  }

  // --- lists ---------------------------------------------------------------------------------

  async #list(
    filter: ListFilter,
    maxAgeMs: number,
    opts: RequestOptions | undefined,
  ): Promise<SecretMetadata[]> {
    const types = filter.type ? [filter.type] : LISTABLE;
    const listings = await Promise.all(
      types.map((t) =>
        untilAborted(this.#listingFor(t, maxAgeMs), opts?.signal).catch((err: unknown) => {
          // Listing every type: an engine the instance does not offer is simply empty.
          if (!filter.type && isNotFound(err)) return undefined;
          throw err;
        }),
      ),
    );
    const nameRe =
      filter.nameRegex &&
      new RegExp(filter.nameRegex.source, filter.nameRegex.flags.replace(/[gy]/g, ''));
    const group = filter.group && filter.group !== '' ? filter.group : undefined;
    return listings
      .flatMap((l) => l?.all ?? [])
      .filter(
        (m) =>
          (group === undefined || m.groupId === group) &&
          (filter.labels ?? []).every((l) => m.labels.includes(l)) &&
          (!nameRe || nameRe.test(m.name)),
      );
  }

  /** The last list of `type` if it is no older than `maxAgeMs` (and the poll interval). */
  #listingFor(type: SecretType, maxAgeMs: number): Promise<Listing> {
    const last = this.#listings.get(type);
    const age = last ? this.#o.clock.now() - last.at : Infinity;
    const limit =
      this.#o.pollIntervalMs > 0 ? Math.min(maxAgeMs, this.#o.pollIntervalMs) : maxAgeMs;
    if (last && age <= limit) return Promise.resolve(last);
    return this.#fetchListing(type);
  }

  /** Lists one type (every group, one response), shared with a list already in flight. */
  #fetchListing(type: SecretType): Promise<Listing> {
    let pending = this.#listing.get(type);
    if (pending) return pending;
    pending = (async () => {
      this.#o.metrics.listCalls.inc({ store: this.#o.store });
      const all = await this.#o.client.listSecrets({ type });
      const byKey = new Map<string, SecretMetadata>();
      for (const m of all) byKey.set(sourceKey(m.type, m.groupId, m.id), m);
      const listing: Listing = { at: this.#o.clock.now(), byKey, all };
      if (!this.#stopped) this.#listings.set(type, listing);
      return listing;
    })().finally(() => this.#listing.delete(type));
    this.#listing.set(type, pending);
    return pending;
  }

  // --- change detection ----------------------------------------------------------------------

  async #compare(
    type: SecretType,
    previous: Listing | undefined,
    listing: Listing,
    flagged: Set<string>,
  ): Promise<void> {
    const { metrics, store } = this.#o;
    const changedKeys = new Set<string>();
    // Values held: re-read the ones that moved (once, before their resources re-sync).
    const rereads: Promise<unknown>[] = [];
    for (const [key, entry] of this.#entries) {
      if (entry.secret.type !== type) continue;
      const listed = listing.byKey.get(key);
      if (!listed) {
        changedKeys.add(key);
        this.#drop(key);
      } else if (listed.updatedAt !== entry.updated) {
        changedKeys.add(key);
        entry.stale = true;
        const m = entry.secret.metadata;
        const ref: SecretRef = {
          type,
          id: m.id,
          ...(m.groupId !== 'default' ? { group: m.groupId } : {}),
        };
        rereads.push(this.#read(ref, Infinity, undefined).catch(() => undefined));
      }
    }
    await Promise.all(rereads);
    // Exactly the resources whose recorded date differs from the list, or whose secret
    // vanished (after a restart the view holds no value yet: this is the whole comparison).
    for (const [key, users] of this.#users) {
      if (!key.startsWith(`${type}\u0000`)) continue;
      const listed = listing.byKey.get(key);
      let resyncs = 0;
      for (const resource of users) {
        const recorded = this.#tracked
          .get(resource)
          ?.sources.find((s) => sourceKey(s.type, s.group, s.id) === key);
        if (recorded && (!listed || listed.updatedAt !== recorded.lastUpdateDate)) {
          flagged.add(resource);
          resyncs++;
        }
      }
      if (resyncs > 0 || changedKeys.has(key)) {
        metrics.changes.inc({ store });
        metrics.resyncsPerChange.observe({ store }, resyncs);
      }
    }
    // dataFrom.find: a new match, a vanished one or a moved date re-syncs the finders.
    if (previous && listChanged(previous, listing)) {
      for (const [resource, t] of this.#tracked) if (t.finds.includes(type)) flagged.add(resource);
    }
  }

  #unuse(key: string, resource: string): void {
    const users = this.#users.get(key);
    users?.delete(resource);
    if (users && users.size === 0) {
      this.#users.delete(key);
      this.#drop(key);
    }
  }

  #drop(key: string): void {
    if (!this.#entries.delete(key)) return;
    this.#o.metrics.entries.set({ store: this.#o.store }, this.#entries.size);
  }

  /**
   * Values no resource took up (its sync failed, or it went away) are dropped once they are
   * older than a poll interval and UNCLAIMED_KEEP_MS: a first sync of thousands of resources
   * reads a resource's values at different times before it syncs, and must not read them twice.
   */
  #sweep(): void {
    const before = this.#lastPoll - Math.max(this.#o.pollIntervalMs, UNCLAIMED_KEEP_MS);
    for (const [key, entry] of this.#entries) {
      if (!this.#users.has(key) && entry.readAt < before) {
        this.#drop(key);
      }
    }
    if (this.#aliases.size > 4 * (this.#entries.size + this.#users.size) + 1024) {
      this.#aliases.clear();
    }
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.poll()
        .catch((err: unknown) => this.#o.log.warn({ err }, 'change detection poll failed'))
        .finally(() => this.#schedule(this.#o.pollIntervalMs));
    }, ms);
  }
}

/** Whether a held value serves a sync that accepts values up to `maxAgeMs` old (0: none). */
function isFresh(entry: Entry | undefined, maxAgeMs: number, now: number): entry is Entry {
  return entry !== undefined && !entry.stale && maxAgeMs > 0 && now - entry.readAt <= maxAgeMs;
}

/** Why a value is read (the `reason` label of remote_view_value_reads_total). */
function readReason(entry: Entry | undefined, maxAgeMs: number): string {
  if (!entry) return 'first';
  if (entry.stale) return 'changed';
  return maxAgeMs === 0 ? 'forced' : 'stale';
}
