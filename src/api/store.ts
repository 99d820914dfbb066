import { z } from 'zod';
import { conditionList, LabelSelector, namespaceName, ObjectMeta, timestamp } from './common.ts';
import { durationField, parseDuration } from './duration.ts';
import { API_VERSION } from './group.ts';
import { withRules } from './rules.ts';
import { authSpec, type StoreKind, secretKeySelector } from './store-auth.ts';

// The regions and the default IAM endpoint are facts of the remote side, kept with the client.
export { DEFAULT_IAM_URL, REGIONS, type Region } from '../secretsmanager/urls.ts';

import { DEFAULT_IAM_URL, REGIONS } from '../secretsmanager/urls.ts';

/**
 * How a store revokes an IAM credential before its TTL ends. The lease records which route
 * was used per credential (`RevocationRoute` without `auto`).
 */
export const REVOCATION_METHODS = [
  'auto',
  'serviceId',
  'secretVersionData',
  'vaultLease',
  'none',
] as const;
export type RevocationMethod = (typeof REVOCATION_METHODS)[number];
export type RevocationRoute = Exclude<RevocationMethod, 'auto'>;

export const STORE_REASONS = {
  /** A real IAM token exchange and Vault login succeeded. */
  Valid: 'Valid',
  InvalidSpec: 'InvalidSpec',
  /**
   * The API key Secret or its key does not exist or cannot be read, or (trusted profile) no
   * token could be had for the service account or from the token file.
   */
  CredentialsMissing: 'CredentialsMissing',
  /** IAM or the Vault login rejected the API key or the trusted profile's token. */
  AuthFailed: 'AuthFailed',
  /**
   * An endpoint answered, but not as IAM or a Secrets Manager Vault API does (404, an
   * unexpected response): the URL, instance ID, region or IAM URL is wrong.
   */
  WrongEndpoint: 'WrongEndpoint',
  /** IAM or Secrets Manager could not be reached (network, TLS, 5xx). */
  Unreachable: 'Unreachable',
} as const;

const HTTP_URL_PATTERN = '^https?://[^\\s/?#@]+(/[^\\s?#]*)?$';
const httpUrl = () =>
  z.string().max(2048).regex(new RegExp(HTTP_URL_PATTERN), {
    error: 'must be an http(s) URL without query, fragment or user info',
  });

const GUID_PATTERN =
  '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

function secretsManagerSpec(kind: StoreKind) {
  return withRules(
    z
      .object({
        url: httpUrl()
          .optional()
          .describe(
            "The base URL of the instance's Vault API. Use this or instanceId + region. " +
              'Example: https://0a1b2c3d-aaaa-bbbb-cccc-0123456789ab.us-south.secrets-manager.appdomain.cloud. ' +
              'Plain http is meant for local emulators only.',
          ),
        instanceId: z
          .string()
          .regex(new RegExp(GUID_PATTERN), { error: 'must be a GUID' })
          .optional()
          .describe(
            'The instance ID (a GUID); with region (and private), the URL is derived: ' +
              'https://{instanceId}[.private].{region}.secrets-manager.appdomain.cloud.',
          ),
        region: z
          .enum(REGIONS)
          .optional()
          .describe('The region of the instance, required with instanceId. Example: us-south.'),
        private: z
          .boolean()
          .optional()
          .describe(
            'Use the private endpoint ({instanceId}.private.{region}...), only with instanceId. Default: false.',
          ),
        iamUrl: httpUrl()
          .default(DEFAULT_IAM_URL)
          .describe(
            'The IAM endpoint that exchanges the API key for a token (and deletes service IDs when ' +
              'revocation uses them). Default: https://iam.cloud.ibm.com. Example for private ' +
              'networks: https://private.iam.cloud.ibm.com.',
          ),
        caBundle: z
          .string()
          .max(65536)
          .regex(/^\s*-----BEGIN CERTIFICATE-----/, { error: 'must be PEM certificates' })
          .optional()
          .describe(
            'PEM certificates to trust for the Secrets Manager and IAM endpoints, instead of the ' +
              'system roots (private endpoints, proxies). Use this or caSecretRef.',
          ),
        caSecretRef: secretKeySelector(kind, 'sm-ca')
          .optional()
          .describe('A Secret key holding the PEM CA bundle. Use this or caBundle.'),
        auth: authSpec(kind),
        revocation: z
          .enum(REVOCATION_METHODS)
          .default('auto')
          .describe(
            'How IAMCredentialLeases using this store revoke a credential before its TTL ends. ' +
              'auto (default): Vault sys/leases/revoke when the server returned a lease ID, else ' +
              'serviceId. serviceId: delete the generated service ID (and its API key) through the ' +
              "IAM Identity API; the store's API key needs the Operator role on IAM Identity " +
              'Service; works for any credential, current or replaced. secretVersionData: delete ' +
              "the version's credentials through the REST API (Manager role); Secrets Manager " +
              'allows it only for the current version, so replaced credentials are left to ' +
              'expire. vaultLease: only sys/leases/revoke (generic Vault or OpenBao). none: never ' +
              'revoke early; credentials expire at their TTL.',
          ),
      })
      .describe('Where the Secrets Manager instance is and how to authenticate to it.'),
    [
      {
        cel: 'has(self.url) != has(self.instanceId)',
        message: 'set exactly one of url or instanceId',
        holds: (value) => (value.url === undefined) !== (value.instanceId === undefined),
      },
      {
        cel: 'has(self.instanceId) == has(self.region)',
        message: 'region is required with instanceId and only allowed with it',
        holds: (value) => (value.instanceId === undefined) === (value.region === undefined),
      },
      {
        cel: '!has(self.private) || has(self.instanceId)',
        message:
          'private is only allowed with instanceId (with url, put the private host in the URL)',
        holds: (value) => value.private === undefined || value.instanceId !== undefined,
      },
      {
        cel: '!(has(self.caBundle) && has(self.caSecretRef))',
        message: 'set at most one of caBundle or caSecretRef',
        holds: (value) => value.caBundle === undefined || value.caSecretRef === undefined,
      },
    ],
  );
}

const RateLimit = z
  .object({
    qps: z
      .number()
      .gt(0)
      .max(1000)
      .describe(
        'Sustained requests per second to Secrets Manager through this store. Example: 10.',
      ),
    burst: z
      .number()
      .int()
      .min(1)
      .max(10000)
      .describe('Requests allowed at once above the sustained rate. Example: 20.'),
  })
  .describe(
    'A client-side limit on requests to Secrets Manager through this store, shared by every ' +
      'resource using it. Default: the operator-wide limit.',
  );

export const StoreCondition = withRules(
  z
    .object({
      namespaces: z
        .array(namespaceName())
        .max(256)
        .optional()
        .describe('Namespaces allowed by name. Example: [payments, billing].'),
      namespaceSelector: LabelSelector.optional().describe(
        'Namespaces allowed by their labels. Example: {matchLabels: {team: payments}}.',
      ),
    })
    .describe('Admits a namespace that is listed in namespaces or matches namespaceSelector.'),
  [
    {
      cel: 'has(self.namespaces) || has(self.namespaceSelector)',
      message: 'set namespaces or namespaceSelector',
      holds: (value) => value.namespaces !== undefined || value.namespaceSelector !== undefined,
    },
  ],
);
export type StoreCondition = z.infer<typeof StoreCondition>;

/** How often a store lists the secret types its resources use when spec.pollInterval is unset. */
export const DEFAULT_POLL_INTERVAL = '60s';

function storeSpec<K extends StoreKind>(kind: K) {
  return z.object({
    secretsManager: secretsManagerSpec(kind),
    rateLimit: RateLimit.optional(),
    pollInterval: durationField({ allowZero: true, min: '5s' })
      .optional()
      .describe(
        'How often the operator lists, per secret type, the secrets this store serves to detect ' +
          'changes: a secret whose last_update_date moved (a rotation, a new value) is read ' +
          'once and every ExternalSecret that references it is updated. One list call per ' +
          'secret type in use, whatever the number of secrets or resources. 0: no change ' +
          "detection; values are then re-read only when a resource's refreshInterval or " +
          'refreshSchedule comes due. At least 5s. Default: 60s. Example: 30s.',
      ),
  });
}

/** spec.pollInterval in milliseconds, with the default applied. */
export function pollIntervalMs(spec: { pollInterval?: string | undefined }): number {
  return parseDuration(spec.pollInterval ?? DEFAULT_POLL_INTERVAL);
}

export const SecretStoreSpec = storeSpec('SecretStore').describe(
  'A Secrets Manager instance that ExternalSecrets and IAMCredentialLeases in this namespace can use.',
);
export type SecretStoreSpec = z.infer<typeof SecretStoreSpec>;

export const ClusterSecretStoreSpec = storeSpec('ClusterSecretStore')
  .extend({
    conditions: z
      .array(StoreCondition)
      .max(32)
      .optional()
      .describe(
        'Which namespaces may use this store: a namespace is admitted when any entry admits it. ' +
          'Omitted or empty: every namespace. A resource in a namespace that is not admitted gets ' +
          'Ready=False with reason Forbidden and never the data.',
      ),
  })
  .describe(
    'A Secrets Manager instance that resources in any admitted namespace can use. The one named ' +
      '"default" is used by resources that name no store.',
  );
export type ClusterSecretStoreSpec = z.infer<typeof ClusterSecretStoreSpec>;

export const SecretStoreStatus = z
  .object({
    conditions: conditionList().optional(),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the status was computed from.'),
    lastValidatedTime: timestamp()
      .optional()
      .describe("When the operator last logged in to the instance with this store's credentials."),
  })
  .describe(
    'The observed state: Ready is True only after a real IAM token exchange and Vault login.',
  );
export type SecretStoreStatus = z.infer<typeof SecretStoreStatus>;
export type StoreStatus = SecretStoreStatus;

export const SecretStore = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('SecretStore'),
  metadata: ObjectMeta,
  spec: SecretStoreSpec,
  status: SecretStoreStatus.optional(),
});
export type SecretStore = z.infer<typeof SecretStore>;

export const ClusterSecretStore = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ClusterSecretStore'),
  metadata: ObjectMeta,
  spec: ClusterSecretStoreSpec,
  status: SecretStoreStatus.optional(),
});
export type ClusterSecretStore = z.infer<typeof ClusterSecretStore>;
