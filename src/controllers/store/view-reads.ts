// The value reads of a store's view (./view.ts) on their way to Secrets Manager: one read per
// secret however many syncs wait for it, handed to the client no faster than its rate limit
// serves them, the rest waiting here as a key each.
import type { RemoteSecret, SecretRef } from '../../secretsmanager/index.ts';

/** A resource waiting for the reads its sync needs (see RemoteView.warm). */
export interface Warmer {
  remaining: number;
  done: () => void;
}

/** A value read asked for and not finished: waiting for its turn, or in the client. */
export interface Flight {
  /** Its key among the reads: the canonical key, or the name key of a name not resolved yet. */
  id: string;
  ref: SecretRef;
  /** The canonical key, when known. */
  key: string | undefined;
  /** Why it is read (the `reason` label of the value-read metric). */
  reason: string;
  warmers: Warmer[];
  /** Made when a reader asks (warmers need none). */
  result?: Promise<RemoteSecret>;
  settle?: { resolve: (secret: RemoteSecret) => void; reject: (err: unknown) => void };
}

/** One read of a warmer's finished, failed or not; `done` once all have. */
export function settled(warmer: Warmer): void {
  warmer.remaining--;
  if (warmer.remaining === 0) warmer.done();
}

export class ValueReads {
  readonly #flights = new Map<string, Flight>();
  /** Reads waiting for their turn. */
  readonly #queue: Flight[] = [];
  /** Reads handed to the client and not finished. */
  #admitted = 0;
  readonly #limit: () => number;
  readonly #fetch: (flight: Flight) => Promise<RemoteSecret>;

  /**
   * `limit`: how many reads may be in the client at once (asked at each admission, as the
   * client's rate may change); `fetch`: one read, which holds the value before it resolves.
   */
  constructor(limit: () => number, fetch: (flight: Flight) => Promise<RemoteSecret>) {
    this.#limit = limit;
    this.#fetch = fetch;
  }

  /** Reads waiting for their turn (not yet in the client). */
  get waiting(): number {
    return this.#queue.length;
  }

  /**
   * The read of `id` asked for and not finished, shared by every caller; a new one goes to the
   * client when it has fewer than `limit` reads, else waits its turn.
   */
  start(id: string, ref: SecretRef, key: string | undefined, reason: string): Flight {
    let flight = this.#flights.get(id);
    if (!flight) {
      flight = { id, ref, key, reason, warmers: [] };
      this.#flights.set(id, flight);
      if (this.#queue.length === 0 && this.#admitted < this.#limit()) this.#launch(flight);
      else this.#queue.push(flight);
    }
    return flight;
  }

  /** What a reader awaits: the value `flight` reads. */
  result(flight: Flight): Promise<RemoteSecret> {
    if (!flight.result) {
      flight.result = new Promise<RemoteSecret>((resolve, reject) => {
        flight.settle = { resolve, reject };
      });
      flight.result.catch(() => {}); // a reader that gave up leaves it unobserved
    }
    return flight.result;
  }

  /** Every read waiting for its turn goes now (the view stopped; its readers still wait). */
  flush(): void {
    for (const flight of this.#queue.splice(0)) this.#launch(flight);
  }

  #launch(flight: Flight): void {
    this.#admitted++;
    this.#fetch(flight).then(
      (secret) => this.#landed(flight, () => flight.settle?.resolve(secret)),
      (err: unknown) => this.#landed(flight, () => flight.settle?.reject(err)),
    );
  }

  /** A read finished (its value, if any, is held by now): its callers, its waiters, the next. */
  #landed(flight: Flight, answer: () => void): void {
    this.#flights.delete(flight.id);
    answer();
    for (const warmer of flight.warmers) settled(warmer);
    this.#admitted--;
    const limit = this.#limit();
    while (this.#queue.length > 0 && this.#admitted < limit) {
      this.#launch(this.#queue.shift() as Flight);
    }
  }
}
