// Keeps a worker free for new and changed ExternalSecrets while scheduled refreshes run: at most
// `slots` refreshes sync at once; a refresh that finds no slot goes back to the queue for a
// moment, so a resource created behind a wave of due refreshes is reached after the cheap
// hand-backs ahead of it rather than after every refresh.
export class RefreshGate {
  readonly #slots: number;
  #inUse = 0;
  #deferred = 0;

  constructor(slots: number) {
    this.#slots = Math.max(1, slots);
  }

  tryEnter(): boolean {
    if (this.#inUse >= this.#slots) {
      this.#deferred++;
      return false;
    }
    this.#inUse++;
    return true;
  }

  leave(): void {
    this.#inUse = Math.max(0, this.#inUse - 1);
  }

  /** Refreshes handed back so far (a metric). */
  get deferred(): number {
    return this.#deferred;
  }

  /** How long a refresh that found no slot waits before it is tried again. */
  static deferMs(random: () => number = Math.random): number {
    return 200 + Math.floor(random() * 800);
  }
}
