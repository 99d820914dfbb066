/**
 * Single flight: concurrent calls with the same key share one in-flight promise. Nothing is
 * cached after it settles, so a later call always goes to the server.
 */
export class SingleFlight<T> {
  readonly #inflight = new Map<string, Promise<T>>();

  get size(): number {
    return this.#inflight.size;
  }

  has(key: string): boolean {
    return this.#inflight.has(key);
  }

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.#inflight.get(key);
    if (existing) return existing;
    const p = fn().finally(() => {
      if (this.#inflight.get(key) === p) this.#inflight.delete(key);
    });
    this.#inflight.set(key, p);
    return p;
  }
}
