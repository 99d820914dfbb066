// The API calls the operator makes, named and shaped as client-node's ObjectParamAPI (so the
// controllers and their fakes read the same), over KubeClient: objects stay plain JSON
// (timestamps are strings), nothing is converted into model classes.
import type {
  AppsV1ApiPatchNamespacedDaemonSetRequest,
  AppsV1ApiPatchNamespacedDeploymentRequest,
  AppsV1ApiPatchNamespacedStatefulSetRequest,
  AuthenticationV1TokenRequest,
  CoordinationV1ApiCreateNamespacedLeaseRequest,
  CoordinationV1ApiReadNamespacedLeaseRequest,
  CoordinationV1ApiReplaceNamespacedLeaseRequest,
  CoreV1ApiCreateNamespacedEventRequest,
  CoreV1ApiCreateNamespacedSecretRequest,
  CoreV1ApiCreateNamespacedServiceAccountTokenRequest,
  CoreV1ApiDeleteNamespacedSecretRequest,
  CoreV1ApiPatchNamespacedEventRequest,
  CoreV1ApiPatchNamespacedSecretRequest,
  CoreV1ApiReadNamespacedConfigMapRequest,
  CoreV1ApiReadNamespacedSecretRequest,
  CoreV1Event,
  CustomObjectsApiCreateNamespacedCustomObjectRequest,
  CustomObjectsApiDeleteNamespacedCustomObjectRequest,
  CustomObjectsApiGetClusterCustomObjectRequest,
  CustomObjectsApiGetNamespacedCustomObjectRequest,
  CustomObjectsApiPatchClusterCustomObjectRequest,
  CustomObjectsApiPatchClusterCustomObjectStatusRequest,
  CustomObjectsApiPatchNamespacedCustomObjectRequest,
  CustomObjectsApiPatchNamespacedCustomObjectStatusRequest,
  V1ConfigMap,
  V1DaemonSet,
  V1Deployment,
  V1Lease,
  V1Secret,
  V1StatefulSet,
  V1Status,
} from '@kubernetes/client-node';

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  contentType?: string;
  accept?: string;
  signal?: AbortSignal;
  /** Overrides the client's timeout; 0 for none (watches, which the informer bounds itself). */
  timeoutMs?: number;
}

/**
 * The Accept header that asks the API server for an object's metadata only
 * (`PartialObjectMetadata`), which it honours for reads, watches and writes alike.
 */
export const METADATA_ACCEPT = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

/** What a write answers with: the whole object, or its metadata only (`METADATA_ACCEPT`). */
export type WriteAnswer = 'object' | 'metadata';

const answerHeader = (answer: WriteAnswer) =>
  answer === 'metadata' ? { accept: METADATA_ACCEPT } : {};

/** What the API groups send requests through (KubeClient). */
export interface KubeRequester {
  request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

/** The Content-Type of a PATCH: which patch format the body is in. */
export const PatchType = {
  /** RFC 7386 JSON merge patch. */
  Merge: 'application/merge-patch+json',
  /** RFC 6902 JSON patch (a list of operations). */
  Json: 'application/json-patch+json',
  /** Kubernetes strategic merge patch (built-in kinds only). */
  StrategicMerge: 'application/strategic-merge-patch+json',
  /** Server-side apply; the body is JSON, which is YAML. */
  Apply: 'application/apply-patch+yaml',
} as const;
export type PatchType = (typeof PatchType)[keyof typeof PatchType];

/** Everything in a request object that is not part of the path or the body is a query param. */
const PATH_PARAMS = new Set(['name', 'namespace', 'group', 'version', 'plural', 'body']);

function queryOf(param: object): Record<string, string | number | boolean | undefined> {
  const query: Record<string, string | number | boolean | undefined> = {};
  for (const [key, value] of Object.entries(param)) {
    if (PATH_PARAMS.has(key) || value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') {
      query[key] = value;
    }
  }
  return query;
}

const seg = encodeURIComponent;

function core(namespace: string, plural: string, name?: string): string {
  return `/api/v1/namespaces/${seg(namespace)}/${plural}${name === undefined ? '' : `/${seg(name)}`}`;
}

function grouped(
  group: string,
  version: string,
  plural: string,
  namespace: string | undefined,
  name?: string,
): string {
  const ns = namespace === undefined ? '' : `/namespaces/${seg(namespace)}`;
  return `/apis/${seg(group)}/${seg(version)}${ns}/${seg(plural)}${name === undefined ? '' : `/${seg(name)}`}`;
}

/** core/v1: Secrets, ConfigMaps, Events, ServiceAccount tokens. */
export class CoreApi {
  readonly kube: KubeRequester;

  constructor(kube: KubeRequester) {
    this.kube = kube;
  }

  readNamespacedSecret(p: CoreV1ApiReadNamespacedSecretRequest): Promise<V1Secret> {
    return this.kube.request('GET', core(p.namespace, 'secrets', p.name), { query: queryOf(p) });
  }

  createNamespacedSecret(p: CoreV1ApiCreateNamespacedSecretRequest): Promise<V1Secret> {
    return this.kube.request('POST', core(p.namespace, 'secrets'), {
      query: queryOf(p),
      body: p.body,
    });
  }

  patchNamespacedSecret(
    p: CoreV1ApiPatchNamespacedSecretRequest,
    type: PatchType,
    answer: WriteAnswer = 'object',
  ): Promise<V1Secret> {
    return this.kube.request('PATCH', core(p.namespace, 'secrets', p.name), {
      query: queryOf(p),
      body: p.body,
      contentType: type,
      ...answerHeader(answer),
    });
  }

  deleteNamespacedSecret(p: CoreV1ApiDeleteNamespacedSecretRequest): Promise<V1Status> {
    return this.kube.request('DELETE', core(p.namespace, 'secrets', p.name), {
      query: queryOf(p),
      ...(p.body !== undefined ? { body: p.body } : {}),
    });
  }

  readNamespacedConfigMap(p: CoreV1ApiReadNamespacedConfigMapRequest): Promise<V1ConfigMap> {
    return this.kube.request('GET', core(p.namespace, 'configmaps', p.name), { query: queryOf(p) });
  }

  createNamespacedServiceAccountToken(
    p: CoreV1ApiCreateNamespacedServiceAccountTokenRequest,
  ): Promise<AuthenticationV1TokenRequest> {
    return this.kube.request('POST', `${core(p.namespace, 'serviceaccounts', p.name)}/token`, {
      query: queryOf(p),
      body: p.body,
    });
  }

  createNamespacedEvent(p: CoreV1ApiCreateNamespacedEventRequest): Promise<CoreV1Event> {
    return this.kube.request('POST', core(p.namespace, 'events'), {
      query: queryOf(p),
      body: p.body,
    });
  }

  patchNamespacedEvent(
    p: CoreV1ApiPatchNamespacedEventRequest,
    type: PatchType,
  ): Promise<CoreV1Event> {
    return this.kube.request('PATCH', core(p.namespace, 'events', p.name), {
      query: queryOf(p),
      body: p.body,
      contentType: type,
    });
  }
}

/** apps/v1: the workloads a rollout restart patches. */
export class AppsApi {
  readonly kube: KubeRequester;

  constructor(kube: KubeRequester) {
    this.kube = kube;
  }

  #patch<T>(plural: string, p: { name: string; namespace: string; body: object }, type: PatchType) {
    return this.kube.request<T>('PATCH', grouped('apps', 'v1', plural, p.namespace, p.name), {
      query: queryOf(p),
      body: p.body,
      contentType: type,
    });
  }

  patchNamespacedDeployment(p: AppsV1ApiPatchNamespacedDeploymentRequest, type: PatchType) {
    return this.#patch<V1Deployment>('deployments', p, type);
  }

  patchNamespacedStatefulSet(p: AppsV1ApiPatchNamespacedStatefulSetRequest, type: PatchType) {
    return this.#patch<V1StatefulSet>('statefulsets', p, type);
  }

  patchNamespacedDaemonSet(p: AppsV1ApiPatchNamespacedDaemonSetRequest, type: PatchType) {
    return this.#patch<V1DaemonSet>('daemonsets', p, type);
  }
}

/** coordination.k8s.io/v1 Leases (leader election, shared state). */
export class CoordinationApi {
  readonly kube: KubeRequester;

  constructor(kube: KubeRequester) {
    this.kube = kube;
  }

  #path(namespace: string, name?: string): string {
    return grouped('coordination.k8s.io', 'v1', 'leases', namespace, name);
  }

  readNamespacedLease(p: CoordinationV1ApiReadNamespacedLeaseRequest): Promise<V1Lease> {
    return this.kube.request('GET', this.#path(p.namespace, p.name), { query: queryOf(p) });
  }

  createNamespacedLease(p: CoordinationV1ApiCreateNamespacedLeaseRequest): Promise<V1Lease> {
    return this.kube.request('POST', this.#path(p.namespace), {
      query: queryOf(p),
      body: p.body,
    });
  }

  replaceNamespacedLease(p: CoordinationV1ApiReplaceNamespacedLeaseRequest): Promise<V1Lease> {
    return this.kube.request('PUT', this.#path(p.namespace, p.name), {
      query: queryOf(p),
      body: p.body,
    });
  }
}

/** The operator's own kinds, by group/version/plural. Results are the objects as JSON. */
export class CustomObjectsApi {
  readonly kube: KubeRequester;

  constructor(kube: KubeRequester) {
    this.kube = kube;
  }

  getNamespacedCustomObject(p: CustomObjectsApiGetNamespacedCustomObjectRequest): Promise<unknown> {
    return this.kube.request('GET', grouped(p.group, p.version, p.plural, p.namespace, p.name), {
      query: queryOf(p),
    });
  }

  getClusterCustomObject(p: CustomObjectsApiGetClusterCustomObjectRequest): Promise<unknown> {
    return this.kube.request('GET', grouped(p.group, p.version, p.plural, undefined, p.name), {
      query: queryOf(p),
    });
  }

  createNamespacedCustomObject(
    p: CustomObjectsApiCreateNamespacedCustomObjectRequest,
  ): Promise<unknown> {
    return this.kube.request('POST', grouped(p.group, p.version, p.plural, p.namespace), {
      query: queryOf(p),
      body: p.body,
    });
  }

  deleteNamespacedCustomObject(
    p: CustomObjectsApiDeleteNamespacedCustomObjectRequest,
  ): Promise<unknown> {
    return this.kube.request('DELETE', grouped(p.group, p.version, p.plural, p.namespace, p.name), {
      query: queryOf(p),
      ...(p.body !== undefined ? { body: p.body } : {}),
    });
  }

  patchNamespacedCustomObject(
    p: CustomObjectsApiPatchNamespacedCustomObjectRequest,
    type: PatchType,
  ): Promise<unknown> {
    const path = grouped(p.group, p.version, p.plural, p.namespace, p.name);
    return this.kube.request('PATCH', path, { query: queryOf(p), body: p.body, contentType: type });
  }

  patchClusterCustomObject(
    p: CustomObjectsApiPatchClusterCustomObjectRequest,
    type: PatchType,
  ): Promise<unknown> {
    const path = grouped(p.group, p.version, p.plural, undefined, p.name);
    return this.kube.request('PATCH', path, { query: queryOf(p), body: p.body, contentType: type });
  }

  patchNamespacedCustomObjectStatus(
    p: CustomObjectsApiPatchNamespacedCustomObjectStatusRequest,
    type: PatchType,
    answer: WriteAnswer = 'object',
  ): Promise<unknown> {
    const path = `${grouped(p.group, p.version, p.plural, p.namespace, p.name)}/status`;
    return this.kube.request('PATCH', path, {
      query: queryOf(p),
      body: p.body,
      contentType: type,
      ...answerHeader(answer),
    });
  }

  patchClusterCustomObjectStatus(
    p: CustomObjectsApiPatchClusterCustomObjectStatusRequest,
    type: PatchType,
    answer: WriteAnswer = 'object',
  ): Promise<unknown> {
    const path = `${grouped(p.group, p.version, p.plural, undefined, p.name)}/status`;
    return this.kube.request('PATCH', path, {
      query: queryOf(p),
      body: p.body,
      contentType: type,
      ...answerHeader(answer),
    });
  }
}
