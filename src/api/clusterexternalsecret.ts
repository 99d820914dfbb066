import { z } from 'zod';
import {
  conditionList,
  LabelSelector,
  namespaceName,
  ObjectMeta,
  objectName,
  stringMap,
} from './common.ts';
import { durationField } from './duration.ts';
import { ExternalSecretSpec } from './externalsecret.ts';
import { API_VERSION } from './group.ts';
import { withRules } from './rules.ts';

export const DEFAULT_NAMESPACE_REFRESH_TIME = '1m';

/** Reasons of the Ready condition of a ClusterExternalSecret. */
export const CLUSTER_EXTERNAL_SECRET_REASONS = {
  /** Every selected namespace has its ExternalSecret (or no namespace is selected). */
  Provisioned: 'Provisioned',
  /** Some selected namespaces have their ExternalSecret, some failed (see failedNamespaces). */
  PartiallyProvisioned: 'PartiallyProvisioned',
  /** No selected namespace has its ExternalSecret (see failedNamespaces). */
  ProvisioningFailed: 'ProvisioningFailed',
  InvalidSpec: 'InvalidSpec',
} as const;

/** Why one namespace did not get its ExternalSecret (status.failedNamespaces[].reason). */
export const NAMESPACE_FAILURE_REASONS = {
  /** An ExternalSecret of that name exists there and was not created by this resource. */
  NotOwned: 'NotOwned',
  /** The ClusterSecretStore named in externalSecretSpec.storeRef does not admit the namespace. */
  StoreForbidsNamespace: 'StoreForbidsNamespace',
  /** The API server refused to create, update or delete the ExternalSecret there. */
  WriteFailed: 'WriteFailed',
} as const;
export type NamespaceFailureReason =
  (typeof NAMESPACE_FAILURE_REASONS)[keyof typeof NAMESPACE_FAILURE_REASONS];

export const ExternalSecretMetadata = z
  .object({
    labels: stringMap()
      .optional()
      .describe(
        'Labels for each ExternalSecret (not for the Secret it writes: use ' +
          'externalSecretSpec.target.labels). When the operator runs sharded (--label-selector), ' +
          'put the shard label here too, or no shard syncs the ExternalSecrets. Example: ' +
          '{team: platform}.',
      ),
    annotations: stringMap()
      .optional()
      .describe('Annotations for each ExternalSecret. Example: {owner: platform-team}.'),
  })
  .describe('Labels and annotations put on every ExternalSecret this resource creates.');
export type ExternalSecretMetadata = z.infer<typeof ExternalSecretMetadata>;

export const ClusterExternalSecretSpec = withRules(
  z
    .object({
      namespaceSelectors: z
        .array(LabelSelector)
        .max(32)
        .optional()
        .describe(
          'Namespaces selected by their labels: a namespace matching any of these selectors ' +
            'gets the ExternalSecret (an empty selector {} selects every namespace). Combined ' +
            'with namespaces as a union. Example: [{matchLabels: {team: payments}}].',
        ),
      namespaces: z
        .array(namespaceName())
        .max(1024)
        .optional()
        .describe(
          'Namespaces selected by name (one that does not exist yet gets the ExternalSecret ' +
            'when it is created). Combined with namespaceSelectors as a union. Example: ' +
            '[payments, billing].',
        ),
      externalSecretName: objectName()
        .optional()
        .describe(
          'The name of the ExternalSecret created in each namespace. Default: the name of this ' +
            'ClusterExternalSecret. An ExternalSecret of that name that this resource did not ' +
            'create is never changed: its namespace is listed in status.failedNamespaces with ' +
            'reason NotOwned.',
        ),
      externalSecretMetadata: ExternalSecretMetadata.optional(),
      externalSecretSpec: ExternalSecretSpec.describe(
        'The spec of the ExternalSecret created in each selected namespace: every field of an ' +
          "ExternalSecret's spec, with the same defaults. A ClusterSecretStore in storeRef " +
          'still decides which namespaces it serves: a selected namespace it does not admit ' +
          'gets no ExternalSecret and is listed in status.failedNamespaces with reason ' +
          'StoreForbidsNamespace. A SecretStore in storeRef means the SecretStore of that name ' +
          'in each namespace.',
      ),
      refreshTime: durationField({ allowZero: false, min: '10s' })
        .optional()
        .describe(
          'How often the selected namespaces are evaluated again, besides reacting at once to ' +
            'namespaces, their labels and the ExternalSecrets changing. At least 10s. Default: ' +
            `${DEFAULT_NAMESPACE_REFRESH_TIME}. Example: 5m.`,
        ),
    })
    .describe(
      'Which namespaces get an ExternalSecret, and the ExternalSecret each of them gets. A ' +
        'namespace that stops being selected (a label removed, the selector or the list ' +
        'changed) loses it; a namespace being deleted is skipped.',
    ),
  [
    {
      cel:
        '(has(self.namespaceSelectors) && size(self.namespaceSelectors) > 0) || ' +
        '(has(self.namespaces) && size(self.namespaces) > 0)',
      message: 'set at least one entry in namespaceSelectors or namespaces',
      holds: (value) =>
        (value.namespaceSelectors?.length ?? 0) > 0 || (value.namespaces?.length ?? 0) > 0,
    },
  ],
);
export type ClusterExternalSecretSpec = z.infer<typeof ClusterExternalSecretSpec>;

export const FailedNamespace = z
  .object({
    namespace: namespaceName().describe('The namespace.'),
    reason: z
      .string()
      .min(1)
      .max(64)
      .describe('Why: NotOwned, StoreForbidsNamespace or WriteFailed.'),
    message: z.string().max(1024).optional().describe('What went wrong and what to do about it.'),
  })
  .describe('A selected namespace that did not get (or keep) its ExternalSecret.');
export type FailedNamespace = z.infer<typeof FailedNamespace>;

export const ClusterExternalSecretStatus = z
  .object({
    conditions: conditionList().optional(),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the status was computed from.'),
    externalSecretName: z
      .string()
      .max(253)
      .optional()
      .describe('The name of the ExternalSecret in each namespace.'),
    provisionedNamespaces: z
      .array(z.string().max(63))
      .max(20000)
      .optional()
      .describe(
        'The namespaces that have an up-to-date ExternalSecret of this resource, sorted. ' +
          'Whether each one synced is in its own status (kubectl get smes -A -l ' +
          'secrets-manager.dev/cluster-external-secret=<name>).',
      ),
    failedNamespaces: z
      .array(FailedNamespace)
      .max(1000)
      .optional()
      .describe('The selected namespaces that did not get their ExternalSecret, and why.'),
  })
  .describe('Which namespaces have the ExternalSecret, and which failed.');
export type ClusterExternalSecretStatus = z.infer<typeof ClusterExternalSecretStatus>;

export const ClusterExternalSecret = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ClusterExternalSecret'),
  metadata: ObjectMeta,
  spec: ClusterExternalSecretSpec,
  status: ClusterExternalSecretStatus.optional(),
});
export type ClusterExternalSecret = z.infer<typeof ClusterExternalSecret>;

/** The name of the ExternalSecret a ClusterExternalSecret creates in each namespace. */
export function clusterExternalSecretTargetName(
  resource: Pick<ClusterExternalSecret, 'metadata' | 'spec'>,
): string {
  return resource.spec.externalSecretName ?? resource.metadata.name;
}
