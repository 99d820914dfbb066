// The resource types the controllers watch, and small writes on custom resources (status,
// finalizers) through the status subresource and merge patches.
import { GROUP, type Kind, PLURALS, VERSION } from '../../api/group.ts';
import { isApiError } from '../../runtime/kube.ts';
import { type CustomObjectsApi, PatchType } from '../../runtime/kubeapi.ts';
import type { ResourceType } from '../../runtime/listwatch.ts';

function custom(kind: Kind, namespaced: boolean): ResourceType {
  return { group: GROUP, version: VERSION, plural: PLURALS[kind], namespaced };
}

export const RESOURCE_TYPES = {
  SecretStore: custom('SecretStore', true),
  ClusterSecretStore: custom('ClusterSecretStore', false),
  ExternalSecret: custom('ExternalSecret', true),
  IAMCredentialLease: custom('IAMCredentialLease', true),
  ClusterExternalSecret: custom('ClusterExternalSecret', false),
  Secret: { group: '', version: 'v1', plural: 'secrets', namespaced: true },
  ConfigMap: { group: '', version: 'v1', plural: 'configmaps', namespaced: true },
  Namespace: { group: '', version: 'v1', plural: 'namespaces', namespaced: false },
} as const satisfies Record<string, ResourceType>;

const mergePatch = PatchType.Merge;
const jsonPatch = PatchType.Json;

export interface ResourceRef {
  kind: Kind;
  name: string;
  /** Omitted for cluster-scoped kinds. */
  namespace?: string;
}

/** What `CustomResources` needs of the custom objects API; tests may hand in a fake. */
export type CustomObjectsPatchApi = Pick<
  CustomObjectsApi,
  | 'getNamespacedCustomObject'
  | 'getClusterCustomObject'
  | 'patchNamespacedCustomObjectStatus'
  | 'patchClusterCustomObjectStatus'
  | 'patchNamespacedCustomObject'
  | 'patchClusterCustomObject'
>;

/** Status and finalizer writes for the operator's own kinds. */
export class CustomResources {
  readonly #api: CustomObjectsPatchApi;

  constructor(api: CustomObjectsPatchApi) {
    this.#api = api;
  }

  /** The object as the API server has it now (not the cache); undefined when it does not exist. */
  async read(ref: ResourceRef): Promise<unknown> {
    const base = { group: GROUP, version: VERSION, plural: PLURALS[ref.kind], name: ref.name };
    try {
      return ref.namespace
        ? await this.#api.getNamespacedCustomObject({ ...base, namespace: ref.namespace })
        : await this.#api.getClusterCustomObject(base);
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  /**
   * Replaces the whole status (fields left out are removed) with a JSON patch: a merge patch
   * could not drop a field without spelling out a null for each. With `resourceVersion` the
   * write is conditional: it fails with 409 Conflict when the object changed since that version
   * was read (optimistic concurrency).
   */
  async replaceStatus(
    ref: ResourceRef,
    status: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<unknown> {
    const base = { group: GROUP, version: VERSION, plural: PLURALS[ref.kind], name: ref.name };
    const body = [
      ...(resourceVersion
        ? [{ op: 'replace', path: '/metadata/resourceVersion', value: resourceVersion }]
        : []),
      { op: 'add', path: '/status', value: status },
    ];
    return ref.namespace
      ? this.#api.patchNamespacedCustomObjectStatus(
          { ...base, namespace: ref.namespace, body },
          jsonPatch,
        )
      : this.#api.patchClusterCustomObjectStatus({ ...base, body }, jsonPatch);
  }

  /**
   * Merge-patches `status` through the status subresource (so it never bumps the generation).
   * Lists in `status` are replaced whole, which is what we want: the controller owns status.
   * With `resourceVersion` the write is conditional (409 Conflict when the object changed).
   * Answers with the object's metadata only (the new resourceVersion is what callers use).
   */
  async patchStatus(
    ref: ResourceRef,
    status: Record<string, unknown>,
    resourceVersion?: string,
  ): Promise<unknown> {
    const base = { group: GROUP, version: VERSION, plural: PLURALS[ref.kind], name: ref.name };
    const body = { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status };
    return ref.namespace
      ? this.#api.patchNamespacedCustomObjectStatus(
          { ...base, namespace: ref.namespace, body },
          mergePatch,
          'metadata',
        )
      : this.#api.patchClusterCustomObjectStatus({ ...base, body }, mergePatch, 'metadata');
  }

  /**
   * Sets `metadata.finalizers`, guarded by `resourceVersion` so a concurrent change (another
   * finalizer added by someone) makes this fail with 409 instead of being overwritten.
   */
  async setFinalizers(
    ref: ResourceRef,
    finalizers: readonly string[],
    resourceVersion: string | undefined,
  ): Promise<unknown> {
    const base = { group: GROUP, version: VERSION, plural: PLURALS[ref.kind], name: ref.name };
    const body = {
      metadata: { finalizers: [...finalizers], ...(resourceVersion ? { resourceVersion } : {}) },
    };
    return ref.namespace
      ? this.#api.patchNamespacedCustomObject(
          { ...base, namespace: ref.namespace, body },
          mergePatch,
        )
      : this.#api.patchClusterCustomObject({ ...base, body }, mergePatch);
  }
}
