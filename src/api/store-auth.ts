// `spec.secretsManager.auth` of SecretStore and ClusterSecretStore: an API key from a Secret, or an
// IBM Cloud IAM trusted profile that trades a Kubernetes service-account token for an IAM token.
import { z } from 'zod';
import { namespaceName, objectName, secretDataKey } from './common.ts';
import { withRules } from './rules.ts';

export type StoreKind = 'SecretStore' | 'ClusterSecretStore';

/** The audience IBM's docs give the projected token that IAM exchanges. */
export const DEFAULT_CR_TOKEN_AUDIENCE = 'iam';
/** TokenRequest lifetime: the API server's minimum is 10 minutes, IAM takes at most one hour. */
export const DEFAULT_SA_TOKEN_EXPIRATION_SECONDS = 600;

/**
 * A reference to a key of a Kubernetes Secret. A SecretStore reads only from its own namespace
 * (so it has no `namespace` field); a ClusterSecretStore belongs to no namespace, so it must say.
 */
export function secretKeySelector(kind: StoreKind, example: string) {
  const base = {
    name: objectName().describe(`The name of the Secret. Example: ${example}.`),
    key: secretDataKey().describe("The key in the Secret's data. Example: apikey."),
  };
  if (kind === 'SecretStore') {
    return z
      .object(base)
      .describe(
        `A key of a Secret in the store's namespace. Example: {name: ${example}, key: apikey}.`,
      );
  }
  return z
    .object({
      ...base,
      namespace: namespaceName().describe(
        'The namespace of the Secret; keep it to one only the platform team can read. Example: secrets-manager-system.',
      ),
    })
    .describe(
      `A key of a Secret in a namespace named here. Example: {name: ${example}, key: apikey, namespace: secrets-manager-system}.`,
    );
}

/**
 * The service account whose token is exchanged. A SecretStore may name only a service account
 * of its own namespace: `namespace`, if given, must be the store's (the operator refuses any
 * other with InvalidSpec, since a CRD rule cannot see the object's namespace).
 */
function serviceAccountRef(kind: StoreKind) {
  const namespace =
    kind === 'SecretStore'
      ? namespaceName()
          .optional()
          .describe(
            "Must be the store's own namespace if given (a SecretStore cannot borrow another " +
              "namespace's identity). Default: the store's namespace.",
          )
      : namespaceName().describe(
          'The namespace of the service account. Example: secrets-manager-system.',
        );
  return z
    .object({
      name: objectName().describe('The name of the service account. Example: payments-reader.'),
      namespace,
      audiences: z
        .array(z.string().min(1).max(253))
        .min(1)
        .max(8)
        .default([DEFAULT_CR_TOKEN_AUDIENCE])
        .describe(
          'The audiences of the token the operator requests; IAM expects the one the trusted ' +
            'profile is set up for. Default: [iam].',
        ),
      expirationSeconds: z
        .number()
        .int()
        .min(600)
        .max(3600)
        .default(DEFAULT_SA_TOKEN_EXPIRATION_SECONDS)
        .describe(
          'How long each requested token is valid (600-3600; IAM accepts at most one hour). ' +
            'The token is used once, for one exchange. Default: 600.',
        ),
    })
    .describe(
      'A service account the operator requests a short-lived token for (TokenRequest, ' +
        '`serviceaccounts/token` create: the chart grants it with rbac.tokenRequest=true) and ' +
        'exchanges at IAM.',
    );
}

const PROFILE_ID_PATTERN = '^Profile-[0-9A-Za-z-]{1,64}$';
const ACCOUNT_ID_PATTERN = '^[0-9A-Za-z]{1,64}$';
const CRN_PATTERN = '^crn:v1:\\S+$';
const ABSOLUTE_PATH_PATTERN = '^/\\S*$';

function trustedProfileSpec(kind: StoreKind) {
  const fields = {
    profileId: z
      .string()
      .regex(new RegExp(PROFILE_ID_PATTERN), { error: 'must look like Profile-<id>' })
      .optional()
      .describe(
        'The trusted profile ID. Example: Profile-9e5b3c44-6f2e-4d4e-9a8c-1c2b3d4e5f60. Set one of ' +
          'profileId, profileName (with accountId) or profileCrn.',
      ),
    profileName: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe('The trusted profile name, with accountId. Example: secrets-reader.'),
    accountId: z
      .string()
      .regex(new RegExp(ACCOUNT_ID_PATTERN), { error: 'must be an account ID (letters, digits)' })
      .optional()
      .describe('The account of profileName. Example: 0123456789abcdef0123456789abcdef.'),
    profileCrn: z
      .string()
      .max(512)
      .regex(new RegExp(CRN_PATTERN), { error: 'must be a CRN (crn:v1:...)' })
      .optional()
      .describe(
        'The trusted profile CRN. Example: crn:v1:bluemix:public:iam-identity::a/0123...::profile:Profile-9e5b...',
      ),
    serviceAccountRef: serviceAccountRef(kind).optional(),
  };
  const tokenPath = z
    .string()
    .max(1024)
    .regex(new RegExp(ABSOLUTE_PATH_PATTERN), { error: 'must be an absolute path' })
    .optional()
    .describe(
      "A service-account token file projected into the operator's own pod (the chart's " +
        'projectedToken values add one), read anew for every exchange since the kubelet rotates ' +
        "it. Only on a ClusterSecretStore: it is the operator's identity, not a team's. " +
        'Example: /var/run/secrets/tokens/sa-token.',
    );
  const profileRules = [
    {
      cel:
        '(has(self.profileId) ? 1 : 0) + (has(self.profileName) ? 1 : 0) + ' +
        '(has(self.profileCrn) ? 1 : 0) == 1',
      message: 'set exactly one of profileId, profileName (with accountId) or profileCrn',
      holds: (v: { profileId?: string; profileName?: string; profileCrn?: string }) =>
        [v.profileId, v.profileName, v.profileCrn].filter((x) => x !== undefined).length === 1,
    },
    {
      cel: 'has(self.profileName) == has(self.accountId)',
      message: 'accountId is required with profileName and only allowed with it',
      holds: (v: { profileName?: string; accountId?: string }) =>
        (v.profileName === undefined) === (v.accountId === undefined),
    },
  ];
  const description =
    'Authenticate as an IBM Cloud IAM trusted profile: a Kubernetes service-account token ' +
    '(a compute resource token) is exchanged at IAM (grant urn:ibm:params:oauth:grant-type:cr-token) ' +
    'for an IAM token, then used for the Vault login. No API key is stored. The profile must ' +
    'trust the service account through a link (the cluster, namespace and service account).';
  if (kind === 'SecretStore') {
    return withRules(z.object(fields).describe(description), [
      ...profileRules,
      {
        cel: 'has(self.serviceAccountRef)',
        message:
          "set serviceAccountRef (a service account of the store's namespace); tokenPath is " +
          'only for ClusterSecretStores',
        holds: (v) => v.serviceAccountRef !== undefined,
      },
    ]);
  }
  return withRules(z.object({ ...fields, tokenPath }).describe(description), [
    ...profileRules,
    {
      cel: 'has(self.serviceAccountRef) != has(self.tokenPath)',
      message: 'set exactly one of serviceAccountRef or tokenPath',
      holds: (v) => (v.serviceAccountRef === undefined) !== (v.tokenPath === undefined),
    },
  ]);
}

export function authSpec(kind: StoreKind) {
  return withRules(
    z
      .object({
        apiKey: z
          .object({
            secretRef: secretKeySelector(kind, 'sm-api-key').describe(
              'The Secret key holding the IBM Cloud API key. The key needs the SecretsReader role on ' +
                'the instance (Manager for early revocation through secretVersionData).',
            ),
          })
          .optional()
          .describe(
            'Authenticate with an IBM Cloud API key: API key -> IAM token -> Vault login ' +
              '(PUT /v1/auth/ibmcloud/login). The operator keeps one IAM token and one Vault token per store.',
          ),
        trustedProfile: trustedProfileSpec(kind).optional(),
      })
      .describe('How the operator authenticates to Secrets Manager: exactly one method.'),
    [
      {
        cel: 'has(self.apiKey) != has(self.trustedProfile)',
        message: 'set exactly one authentication method: apiKey or trustedProfile',
        holds: (value) => (value.apiKey === undefined) !== (value.trustedProfile === undefined),
      },
    ],
  );
}

export type StoreAuth = z.infer<ReturnType<typeof authSpec>>;
/** The trusted profile of either store kind, as parsed (tokenPath only on a ClusterSecretStore). */
export interface TrustedProfileAuth {
  profileId?: string | undefined;
  profileName?: string | undefined;
  accountId?: string | undefined;
  profileCrn?: string | undefined;
  serviceAccountRef?:
    | {
        name: string;
        namespace?: string | undefined;
        audiences: string[];
        expirationSeconds: number;
      }
    | undefined;
  tokenPath?: string | undefined;
}
