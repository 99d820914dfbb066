// The ExternalSecret writes of the ClusterExternalSecret controller, on the API server. Create is
// a plain POST so that an ExternalSecret someone else made is never taken over (409 instead);
// update replaces spec, labels and annotations in one JSON patch guarded by the resourceVersion
// read; delete is guarded by the uid, so a newer object of the same name is never deleted.
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../api/group.ts';
import { isApiError } from '../../runtime/kube.ts';
import { type CustomObjectsApi, PatchType } from '../../runtime/kubeapi.ts';
import { FIELD_MANAGER } from '../shared/constants.ts';
import type { OwnerRef, Template } from './plan.ts';

const jsonPatch = PatchType.Json;
const base = { group: GROUP, version: VERSION, plural: PLURALS.ExternalSecret };

export interface ExternalSecretMeta {
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  };
}

/** What the controller writes through; tests hand in a fake. */
export interface ExternalSecretWrites {
  /** Creates it; false (nothing written) when an object of that name already exists. */
  create(namespace: string, template: Template, owner: OwnerRef): Promise<boolean>;
  update(
    namespace: string,
    template: Template,
    current: { resourceVersion: string },
  ): Promise<void>;
  /** Deletes it if it is still the object with this uid; a missing one is fine. */
  delete(namespace: string, name: string, uid: string): Promise<void>;
  /** Reads it from the API server (not the cache); undefined when it does not exist. */
  get(namespace: string, name: string): Promise<ExternalSecretMeta | undefined>;
}

export class KubeExternalSecretWrites implements ExternalSecretWrites {
  readonly #api: CustomObjectsApi;

  constructor(api: CustomObjectsApi) {
    this.#api = api;
  }

  async create(namespace: string, template: Template, owner: OwnerRef): Promise<boolean> {
    try {
      await this.#api.createNamespacedCustomObject({
        ...base,
        namespace,
        fieldManager: FIELD_MANAGER,
        body: {
          apiVersion: API_VERSION,
          kind: 'ExternalSecret',
          metadata: {
            name: template.name,
            namespace,
            labels: template.labels,
            annotations: template.annotations,
            ownerReferences: [owner],
          },
          spec: template.spec,
        },
      });
      return true;
    } catch (err) {
      if (isApiError(err, 409)) return false;
      throw err;
    }
  }

  async update(
    namespace: string,
    template: Template,
    current: { resourceVersion: string },
  ): Promise<void> {
    await this.#api.patchNamespacedCustomObject(
      {
        ...base,
        namespace,
        name: template.name,
        fieldManager: FIELD_MANAGER,
        body: [
          { op: 'replace', path: '/metadata/resourceVersion', value: current.resourceVersion },
          { op: 'add', path: '/metadata/labels', value: template.labels },
          { op: 'add', path: '/metadata/annotations', value: template.annotations },
          { op: 'add', path: '/spec', value: template.spec },
        ],
      },
      jsonPatch,
    );
  }

  async delete(namespace: string, name: string, uid: string): Promise<void> {
    try {
      await this.#api.deleteNamespacedCustomObject({
        ...base,
        namespace,
        name,
        body: { preconditions: { uid } },
      });
    } catch (err) {
      // Gone already, or replaced by a newer object (precondition failed): nothing of ours.
      if (isApiError(err, 404) || isApiError(err, 409)) return;
      throw err;
    }
  }

  async get(namespace: string, name: string): Promise<ExternalSecretMeta | undefined> {
    try {
      return (await this.#api.getNamespacedCustomObject({
        ...base,
        namespace,
        name,
      })) as ExternalSecretMeta;
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }
}
