import { DEFAULT_FAULTS, type Faults, type FaultsUpdate } from './types.ts';

export type FaultDecision =
  | { kind: 'pass'; delayMs: number }
  | { kind: 'rateLimit'; delayMs: number; retryAfter: string }
  | { kind: 'error'; delayMs: number; status: number };

/** Holds the current faults and decides, per request, whether one applies. */
export class FaultInjector {
  #initial: Faults;
  #current: Faults;
  #routeMatchers: ((key: string, template: string) => boolean)[] | undefined;
  readonly #random: () => number;

  constructor(initial: Faults, random: () => number) {
    this.#initial = { ...initial };
    this.#current = { ...initial };
    this.#random = random;
    this.#compile();
  }

  get current(): Faults {
    return { ...this.#current };
  }

  set(patch: FaultsUpdate): void {
    const next: Faults = { ...this.#current };
    for (const [k, v] of Object.entries(patch) as [keyof Faults, unknown][]) {
      if (v === undefined) continue;
      if (v === null) delete next[k];
      else (next as unknown as Record<string, unknown>)[k] = v;
    }
    this.#current = next;
    this.#compile();
  }

  /** Back to the faults the emulator was started with. */
  reset(): void {
    this.#current = { ...this.#initial };
    this.#compile();
  }

  /** Back to no faults at all. */
  clear(): void {
    this.#current = { ...DEFAULT_FAULTS };
    this.#compile();
  }

  /** `key` is `"<METHOD> <route>"`; a fault applies when no route filter is set or one matches. */
  decide(key: string): FaultDecision {
    const f = this.#current;
    if (f.latencyMs === 0 && f.errorRate === 0 && f.rateLimitRate === 0) {
      return { kind: 'pass', delayMs: 0 };
    }
    if (this.#routeMatchers) {
      const template = key.slice(key.indexOf(' ') + 1);
      if (!this.#routeMatchers.some((m) => m(key, template))) return { kind: 'pass', delayMs: 0 };
    }
    const delayMs = f.latencyMs;
    if (f.rateLimitRate > 0 && this.#random() < f.rateLimitRate) {
      return { kind: 'rateLimit', delayMs, retryAfter: String(f.retryAfter) };
    }
    if (f.errorRate > 0 && this.#random() < f.errorRate) {
      return { kind: 'error', delayMs, status: f.errorStatus };
    }
    return { kind: 'pass', delayMs };
  }

  #compile(): void {
    const routes = this.#current.routes;
    this.#routeMatchers = routes?.map((pattern) => {
      if (!pattern.includes('*')) return (key, template) => key === pattern || template === pattern;
      const re = new RegExp(
        `^${pattern
          .split('*')
          .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
          .join('.*')}$`,
      );
      return (key, template) => re.test(key) || re.test(template);
    });
  }
}
