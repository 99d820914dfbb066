// Stand-ins for controller unit tests: an informer cache without an API server.
import type { EventHandlers, Informer, KubeObject } from '../../../runtime/informer.ts';

/** A hand-filled informer cache with the part of the Informer API controllers use. */
export class FakeInformer<T extends KubeObject = KubeObject> {
  readonly #objects = new Map<string, T>();
  readonly #handlers = new Set<EventHandlers<T>>();

  put(obj: T): this {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const old = this.#objects.get(key);
    this.#objects.set(key, obj);
    for (const h of this.#handlers) {
      if (old) h.update?.(old, obj);
      else h.add?.(obj);
    }
    return this;
  }

  remove(namespace: string | undefined, name: string): this {
    const key = `${namespace ?? ''}/${name}`;
    const old = this.#objects.get(key);
    this.#objects.delete(key);
    if (old) for (const h of this.#handlers) h.delete?.(old);
    return this;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#objects.get(`${namespace ?? ''}/${name}`);
  }

  list(namespace?: string): T[] {
    const all = [...this.#objects.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  on(handlers: EventHandlers<T>): () => void {
    this.#handlers.add(handlers);
    return () => this.#handlers.delete(handlers);
  }

  /** Typed as the real thing for code under test. */
  get informer(): Informer<T> {
    return this as unknown as Informer<T>;
  }
}
