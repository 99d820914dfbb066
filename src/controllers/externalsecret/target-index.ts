// Which ExternalSecrets write which Secret, kept from the ExternalSecret informer's events: a
// Secret's watch event wakes the resources that write it.
import type { KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/logger.ts';

/**
 * Which ExternalSecrets write which Secret: namespace -> Secret name -> the ExternalSecret
 * names (one string when there is one writer, the usual case). Kept from the informer's
 * events, with the cached objects' own strings: no key is built per resource.
 */
export class TargetIndex {
  readonly #byNamespace = new Map<string, Map<string, string | Set<string>>>();

  add(obj: KubeObject): void {
    const namespace = obj.metadata.namespace as string;
    const target = targetNameOf(obj);
    const name = obj.metadata.name;
    let targets = this.#byNamespace.get(namespace);
    if (!targets) {
      targets = new Map();
      this.#byNamespace.set(namespace, targets);
    }
    const writers = targets.get(target);
    if (writers === undefined || writers === name) targets.set(target, name);
    else if (typeof writers === 'string') targets.set(target, new Set([writers, name]));
    else writers.add(name);
  }

  delete(obj: KubeObject): void {
    const namespace = obj.metadata.namespace as string;
    const target = targetNameOf(obj);
    const name = obj.metadata.name;
    const targets = this.#byNamespace.get(namespace);
    const writers = targets?.get(target);
    if (!targets || writers === undefined) return;
    if (writers === name) targets.delete(target);
    else if (typeof writers !== 'string') {
      writers.delete(name);
      if (writers.size === 1) targets.set(target, writers.values().next().value as string);
    }
    if (targets.size === 0) this.#byNamespace.delete(namespace);
  }

  writersOf(namespace: string, secret: string): ObjectKey[] {
    const writers = this.#byNamespace.get(namespace)?.get(secret);
    if (writers === undefined) return [];
    if (typeof writers === 'string') return [{ namespace, name: writers }];
    return [...writers].map((name) => ({ namespace, name }));
  }
}

/** spec.target.name without a full parse (invalid resources are indexed too). */
function targetNameOf(obj: KubeObject): string {
  const spec = obj.spec as { target?: { name?: unknown } } | undefined;
  const name = spec?.target?.name;
  return typeof name === 'string' && name !== '' ? name : obj.metadata.name;
}
