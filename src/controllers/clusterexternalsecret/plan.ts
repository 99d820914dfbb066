// Pure: which namespaces a ClusterExternalSecret selects, and what to create, update and delete
// so that exactly those namespaces hold its ExternalSecret. The reconciler reads the world into
// these shapes, calls `planNamespaces` and carries the plan out.
import { isDeepStrictEqual } from 'node:util';
import {
  API_VERSION,
  type ClusterExternalSecret,
  type ClusterExternalSecretSpec,
  clusterExternalSecretTargetName,
  type ExternalSecretSpec,
  type FailedNamespace,
  matchesLabelSelector,
  NAMESPACE_FAILURE_REASONS,
} from '../../api/index.ts';
import { LABELS } from '../shared/constants.ts';
import { byCodeUnit } from '../shared/order.ts';

export const KIND = 'ClusterExternalSecret';

/** A namespace as the plan needs it. */
export interface NamespaceView {
  name: string;
  labels: Readonly<Record<string, string>>;
  /** deletionTimestamp is set: the namespace is going away. */
  terminating: boolean;
}

/** An ExternalSecret that carries this ClusterExternalSecret's label. */
export interface ExistingExternalSecret {
  namespace: string;
  name: string;
  /** Its controller owner reference names this ClusterExternalSecret (by uid). */
  ours: boolean;
  /** Its controller is a ClusterExternalSecret of this name that has since been deleted. */
  staleOwner: boolean;
  terminating: boolean;
  /** Spec, labels and annotations are those the template asks for. */
  upToDate: boolean;
}

/** Whether a ClusterSecretStore admits a namespace: undefined when it does, else why not. */
export type Admission = (namespace: NamespaceView) => string | undefined;

export interface PlanInput {
  spec: Pick<ClusterExternalSecretSpec, 'namespaceSelectors' | 'namespaces'>;
  externalSecretName: string;
  namespaces: readonly NamespaceView[];
  existing: readonly ExistingExternalSecret[];
  admit: Admission;
}

export interface Plan {
  /** Namespaces to create the ExternalSecret in. */
  create: string[];
  /** Ours, wanted, not as the template says. */
  update: ExistingExternalSecret[];
  /** Ours and no longer wanted: the namespace is not selected any more, or the name changed. */
  remove: ExistingExternalSecret[];
  /** Ours, wanted and up to date. */
  provisioned: string[];
  /** Wanted, but an old one is still being deleted there: look again soon. */
  waiting: string[];
  failed: FailedNamespace[];
}

/** Whether the spec selects a namespace: listed by name, or matched by any selector. */
export function selects(
  spec: Pick<ClusterExternalSecretSpec, 'namespaceSelectors' | 'namespaces'>,
  namespace: Pick<NamespaceView, 'name' | 'labels'>,
): boolean {
  if (spec.namespaces?.includes(namespace.name)) return true;
  return (spec.namespaceSelectors ?? []).some((selector) =>
    matchesLabelSelector(selector, namespace.labels),
  );
}

export function planNamespaces(input: PlanInput): Plan {
  const plan: Plan = {
    create: [],
    update: [],
    remove: [],
    provisioned: [],
    waiting: [],
    failed: [],
  };
  const wanted = new Set<string>();
  for (const namespace of input.namespaces) {
    // A namespace being deleted takes its ExternalSecret with it; creating one would fail.
    if (namespace.terminating || !selects(input.spec, namespace)) continue;
    const refusal = input.admit(namespace);
    if (refusal !== undefined) {
      plan.failed.push({
        namespace: namespace.name,
        reason: NAMESPACE_FAILURE_REASONS.StoreForbidsNamespace,
        message: refusal,
      });
      continue;
    }
    wanted.add(namespace.name);
  }
  const terminatingNamespaces = new Set(
    input.namespaces.filter((n) => n.terminating).map((n) => n.name),
  );
  const found = new Set<string>();
  for (const es of input.existing) {
    const atWantedName = es.name === input.externalSecretName && wanted.has(es.namespace);
    if (atWantedName) found.add(es.namespace);
    if (!es.ours) {
      if (!atWantedName) continue;
      if (es.staleOwner || es.terminating) plan.waiting.push(es.namespace);
      else plan.failed.push(notOwned(es.namespace, es.name));
      continue;
    }
    if (!atWantedName) {
      // Gone with the namespace anyway; deleting inside a terminating namespace is harmless but
      // pointless.
      if (!es.terminating && !terminatingNamespaces.has(es.namespace)) plan.remove.push(es);
      continue;
    }
    if (es.terminating) plan.waiting.push(es.namespace);
    else if (es.upToDate) plan.provisioned.push(es.namespace);
    else plan.update.push(es);
  }
  for (const namespace of wanted) if (!found.has(namespace)) plan.create.push(namespace);
  plan.create.sort();
  plan.provisioned.sort();
  plan.waiting.sort();
  plan.failed.sort((a, b) => byCodeUnit(a.namespace, b.namespace));
  return plan;
}

export function notOwned(namespace: string, name: string): FailedNamespace {
  return {
    namespace,
    reason: NAMESPACE_FAILURE_REASONS.NotOwned,
    message:
      `an ExternalSecret named ${name} already exists in ${namespace} and was not created by ` +
      'this ClusterExternalSecret; it is left alone. Delete or rename it, or set ' +
      'spec.externalSecretName to another name.',
  };
}

/** What every ExternalSecret of a ClusterExternalSecret looks like. */
export interface Template {
  name: string;
  spec: ExternalSecretSpec;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export function templateOf(ces: ClusterExternalSecret): Template {
  return {
    name: clusterExternalSecretTargetName(ces),
    spec: ces.spec.externalSecretSpec,
    // Our label last, so the template cannot take it away.
    labels: {
      ...ces.spec.externalSecretMetadata?.labels,
      [LABELS.clusterExternalSecret]: ces.metadata.name,
    },
    annotations: { ...ces.spec.externalSecretMetadata?.annotations },
  };
}

/** Whether an ExternalSecret (its parsed spec and its metadata) is what the template says. */
export function matchesTemplate(
  template: Template,
  spec: ExternalSecretSpec | undefined,
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> },
): boolean {
  return (
    spec !== undefined &&
    isDeepStrictEqual(spec, template.spec) &&
    isDeepStrictEqual(metadata.labels ?? {}, template.labels) &&
    isDeepStrictEqual(metadata.annotations ?? {}, template.annotations)
  );
}

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

/** The owner reference that makes deleting the ClusterExternalSecret delete its ExternalSecrets. */
export function ownerRefOf(ces: {
  metadata: { name: string; uid?: string | undefined };
}): OwnerRef {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    name: ces.metadata.name,
    uid: ces.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** How an ExternalSecret relates to a ClusterExternalSecret, from its controller reference. */
export function ownership(
  ownerReferences: ReadonlyArray<{ kind: string; name: string; uid: string; controller?: boolean }>,
  ces: { name: string; uid: string },
): { ours: boolean; staleOwner: boolean } {
  const controller = ownerReferences.find((ref) => ref.controller === true);
  if (!controller || controller.kind !== KIND || controller.name !== ces.name) {
    return { ours: false, staleOwner: false };
  }
  return controller.uid === ces.uid
    ? { ours: true, staleOwner: false }
    : { ours: false, staleOwner: true };
}
