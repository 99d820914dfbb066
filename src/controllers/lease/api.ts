// Reads and writes of IAMCredentialLease objects. Each reconcile reads the object from the API
// server rather than the informer cache: a renewal decided on a stale status would mint twice.
import {
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { GROUP, PLURALS, VERSION } from '../../api/group.ts';
import type { IAMCredentialLeaseStatus } from '../../api/index.ts';
import { isApiError } from '../../runtime/kube.ts';
import type { CustomResources } from '../resources.ts';

export interface LeaseApi {
  /** The object as the API server has it now; undefined when it does not exist. */
  get(namespace: string, name: string): Promise<unknown>;
  /** Replaces the whole status (fields left out are removed); returns the new resourceVersion. */
  writeStatus(
    namespace: string,
    name: string,
    status: IAMCredentialLeaseStatus,
  ): Promise<string | undefined>;
  setFinalizers(
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string | undefined,
  ): Promise<void>;
}

const jsonPatch = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
const base = { group: GROUP, version: VERSION, plural: PLURALS.IAMCredentialLease };

export class KubeLeaseApi implements LeaseApi {
  readonly #api: CustomObjectsApi;
  readonly #resources: CustomResources;

  constructor(kubeConfig: KubeConfig, resources: CustomResources) {
    this.#api = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#resources = resources;
  }

  async get(namespace: string, name: string): Promise<unknown> {
    try {
      return await this.#api.getNamespacedCustomObject({ ...base, namespace, name });
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  async writeStatus(
    namespace: string,
    name: string,
    status: IAMCredentialLeaseStatus,
  ): Promise<string | undefined> {
    // A JSON patch that sets /status whole: a merge patch could not drop `minting` or
    // `current` without spelling out nulls for every removed field.
    const updated = (await this.#api.patchNamespacedCustomObjectStatus(
      { ...base, namespace, name, body: [{ op: 'add', path: '/status', value: status }] },
      jsonPatch,
    )) as { metadata?: { resourceVersion?: string } } | undefined;
    return updated?.metadata?.resourceVersion;
  }

  async setFinalizers(
    namespace: string,
    name: string,
    finalizers: readonly string[],
    resourceVersion: string | undefined,
  ): Promise<void> {
    await this.#resources.setFinalizers(
      { kind: 'IAMCredentialLease', namespace, name },
      finalizers,
      resourceVersion,
    );
  }
}
