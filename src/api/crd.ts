import { stringify } from 'yaml';
import type { z } from 'zod';
import { ClusterExternalSecretSpec, ClusterExternalSecretStatus } from './clusterexternalsecret.ts';
import { ExternalSecretSpec, ExternalSecretStatus } from './externalsecret.ts';
import { CATEGORY, GROUP, type Kind, PLURALS, VERSION } from './group.ts';
import { IAMCredentialLeaseSpec, IAMCredentialLeaseStatus } from './iamcredentiallease.ts';
import { ClusterSecretStoreSpec, SecretStoreSpec, SecretStoreStatus } from './store.ts';
import { type SchemaNode, toStructural } from './structural.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface KindDefinition {
  kind: Kind;
  singular: string;
  /** Chosen not to clash with External Secrets Operator's es, ss, css on clusters running both. */
  shortNames: string[];
  scope: 'Namespaced' | 'Cluster';
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  printerColumns: PrinterColumn[];
}

const ready = (reasonPriority?: number): PrinterColumn[] => [
  {
    name: 'Ready',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].status',
    description: 'Whether the resource is ready.',
  },
  {
    name: 'Reason',
    type: 'string',
    jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
    description: 'Why it is (not) ready.',
    ...(reasonPriority !== undefined ? { priority: reasonPriority } : {}),
  },
];

const age: PrinterColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'Time since creation.',
};

const storeColumns: PrinterColumn[] = [
  ...ready(),
  {
    name: 'Last Validated',
    type: 'date',
    jsonPath: '.status.lastValidatedTime',
    description: 'Time since the last successful login.',
    priority: 1,
  },
  {
    name: 'URL',
    type: 'string',
    jsonPath: '.spec.secretsManager.url',
    description: 'The Vault API URL, when given directly.',
    priority: 1,
  },
  {
    name: 'Instance',
    type: 'string',
    jsonPath: '.spec.secretsManager.instanceId',
    description: 'The instance ID, when the URL is derived.',
    priority: 1,
  },
  {
    name: 'Region',
    type: 'string',
    jsonPath: '.spec.secretsManager.region',
    description: 'The region, when the URL is derived.',
    priority: 1,
  },
  age,
];

export const KIND_DEFINITIONS: readonly KindDefinition[] = [
  {
    kind: 'SecretStore',
    singular: 'secretstore',
    shortNames: ['smstore'],
    scope: 'Namespaced',
    description:
      'SecretStore connects one namespace to a Secrets Manager instance: where it is and which ' +
      'API key (a Secret in this namespace) to log in with. ExternalSecrets and ' +
      'IAMCredentialLeases in this namespace refer to it with storeRef.kind: SecretStore.',
    spec: SecretStoreSpec,
    status: SecretStoreStatus,
    printerColumns: storeColumns,
  },
  {
    kind: 'ClusterSecretStore',
    singular: 'clustersecretstore',
    shortNames: ['smcss'],
    scope: 'Cluster',
    description:
      'ClusterSecretStore connects a Secrets Manager instance to every namespace its conditions ' +
      'admit. The one named "default" serves resources that name no store.',
    spec: ClusterSecretStoreSpec,
    status: SecretStoreStatus,
    printerColumns: storeColumns,
  },
  {
    kind: 'ExternalSecret',
    singular: 'externalsecret',
    shortNames: ['smes'],
    scope: 'Namespaced',
    description:
      'ExternalSecret keeps a Kubernetes Secret in this namespace in sync with secrets in IBM ' +
      'Cloud Secrets Manager, refreshing on an interval or a schedule. A failure on the remote ' +
      'side never blanks or deletes the Secret: the last good data stays and status says why.',
    spec: ExternalSecretSpec,
    status: ExternalSecretStatus,
    printerColumns: [
      {
        name: 'Store',
        type: 'string',
        jsonPath: '.spec.storeRef.name',
        description: 'The store it reads through.',
      },
      {
        name: 'Secret',
        type: 'string',
        jsonPath: '.status.secretName',
        description: 'The Secret it writes.',
      },
      ...ready(),
      {
        name: 'Last Sync',
        type: 'date',
        jsonPath: '.status.refreshTime',
        description: 'Time since the Secret was last confirmed up to date.',
      },
      age,
    ],
  },
  {
    kind: 'IAMCredentialLease',
    singular: 'iamcredentiallease',
    shortNames: ['iamlease'],
    scope: 'Namespaced',
    description:
      'IAMCredentialLease leases a dynamic IAM credential (service ID + API key) from an ' +
      'iam_credentials secret into a Secret, replaces it before it expires, and revokes the ' +
      'credentials it no longer needs, including all of them when it is deleted.',
    spec: IAMCredentialLeaseSpec,
    status: IAMCredentialLeaseStatus,
    printerColumns: [
      {
        name: 'Secret',
        type: 'string',
        jsonPath: '.status.secretName',
        description: 'The Secret it writes.',
      },
      ...ready(1),
      // Future times: a `date` column would print "<invalid>" for them, so show the timestamp.
      {
        name: 'Expires',
        type: 'string',
        jsonPath: '.status.current.expiresAt',
        description: 'When the current credential expires.',
      },
      {
        name: 'Renews',
        type: 'string',
        jsonPath: '.status.current.renewAt',
        description: 'When the current credential will be replaced.',
      },
      age,
    ],
  },
  {
    kind: 'ClusterExternalSecret',
    singular: 'clusterexternalsecret',
    shortNames: ['smces'],
    scope: 'Cluster',
    description:
      'ClusterExternalSecret puts the same ExternalSecret into many namespaces, chosen by name ' +
      'or by label, and keeps the set current: a namespace that becomes selected gets the ' +
      'ExternalSecret, one that stops being selected loses it, and deleting this resource ' +
      'deletes them all. A ClusterSecretStore still serves only the namespaces it admits. ' +
      'Cluster-scoped: meant for the platform team, not granted to namespace admins.',
    spec: ClusterExternalSecretSpec,
    status: ClusterExternalSecretStatus,
    printerColumns: [
      {
        name: 'Store',
        type: 'string',
        jsonPath: '.spec.externalSecretSpec.storeRef.name',
        description: 'The store each ExternalSecret reads through.',
      },
      {
        name: 'ExternalSecret',
        type: 'string',
        jsonPath: '.status.externalSecretName',
        description: 'The name of the ExternalSecret in each namespace.',
      },
      {
        name: 'Refresh',
        type: 'string',
        jsonPath: '.spec.refreshTime',
        description: 'How often the namespaces are evaluated again.',
        priority: 1,
      },
      ...ready(),
      {
        name: 'Provisioned',
        type: 'string',
        jsonPath: '.status.provisionedNamespaces',
        description: 'The namespaces that have the ExternalSecret.',
        priority: 1,
      },
      {
        name: 'Failed',
        type: 'string',
        jsonPath: '.status.failedNamespaces[*].namespace',
        description: 'The selected namespaces that did not get it.',
        priority: 1,
      },
      age,
    ],
  },
];

const LABELS = {
  'app.kubernetes.io/name': 'secrets-manager-operator',
  'app.kubernetes.io/part-of': 'secrets-manager-operator',
};

export function buildCrd(definition: KindDefinition) {
  const plural = PLURALS[definition.kind];
  const openAPIV3Schema: SchemaNode = {
    description: definition.description,
    type: 'object',
    properties: {
      apiVersion: {
        description: `The versioned schema of this object: ${GROUP}/${VERSION}.`,
        type: 'string',
      },
      kind: {
        description: `The kind of this object: ${definition.kind}.`,
        type: 'string',
      },
      metadata: { type: 'object' },
      spec: toStructural(definition.spec),
      status: toStructural(definition.status),
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${GROUP}`, labels: LABELS },
    spec: {
      group: GROUP,
      names: {
        kind: definition.kind,
        listKind: `${definition.kind}List`,
        plural,
        singular: definition.singular,
        shortNames: definition.shortNames,
        categories: [CATEGORY],
      },
      scope: definition.scope,
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: definition.printerColumns,
          schema: { openAPIV3Schema },
        },
      ],
    },
  };
}

export type CustomResourceDefinition = ReturnType<typeof buildCrd>;

export const CRD_HEADER =
  '# Generated from the zod schemas in src/api by `npm run generate`. Do not edit.\n';

export interface CrdFile {
  fileName: string;
  crd: CustomResourceDefinition;
  yaml: string;
}

/** Every CRD as the file that `npm run generate` writes, in a fixed order. */
export function renderCrdFiles(): CrdFile[] {
  return KIND_DEFINITIONS.map((definition) => {
    const crd = buildCrd(definition);
    return {
      fileName: `${GROUP}_${PLURALS[definition.kind]}.yaml`,
      crd,
      yaml: CRD_HEADER + stringify(crd, { lineWidth: 0 }),
    };
  });
}
