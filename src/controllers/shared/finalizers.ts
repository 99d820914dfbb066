// Finalizers, as controller-runtime's AddFinalizer/RemoveFinalizer: each write is guarded by the
// resourceVersion read, so a concurrent change fails with 409 (retried) instead of being lost.
import { isApiError } from '../../runtime/kube.ts';
import type { CustomResources, ResourceRef } from './resources.ts';

export type FinalizerApi = Pick<CustomResources, 'setFinalizers'>;

interface Finalizable {
  metadata: { finalizers?: string[] | undefined; resourceVersion?: string | undefined };
}

export function hasFinalizer(obj: Finalizable, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/**
 * Adds or removes `finalizer` so that it is there exactly when `wanted`. Returns the object's
 * new resourceVersion when it wrote, undefined when nothing needed writing.
 */
export async function setFinalizer(
  api: FinalizerApi,
  ref: ResourceRef,
  obj: Finalizable,
  finalizer: string,
  wanted: boolean,
): Promise<string | undefined> {
  const finalizers = obj.metadata.finalizers ?? [];
  if (finalizers.includes(finalizer) === wanted) return undefined;
  const next = wanted ? [...finalizers, finalizer] : finalizers.filter((f) => f !== finalizer);
  const updated = (await api.setFinalizers(ref, next, obj.metadata.resourceVersion)) as
    | { metadata?: { resourceVersion?: string } }
    | undefined;
  return updated?.metadata?.resourceVersion;
}

/** Removes `finalizer` after cleanup; an object already gone is fine. */
export async function removeFinalizer(
  api: FinalizerApi,
  ref: ResourceRef,
  obj: Finalizable,
  finalizer: string,
): Promise<void> {
  try {
    await setFinalizer(api, ref, obj, finalizer, false);
  } catch (err) {
    if (!isApiError(err, 404)) throw err;
  }
}
