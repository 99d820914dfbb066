import { z } from 'zod';
import {
  conditionList,
  listMap,
  ObjectMeta,
  objectName,
  remoteId,
  remoteName,
  rolloutRestartTargetsField,
  SecretType,
  secretDataKey,
  storeRefField,
  stringMap,
  timestamp,
} from './common.ts';
import { durationField, parseDuration } from './duration.ts';
import { API_VERSION } from './group.ts';
import { type Rule, withRules } from './rules.ts';
import { scheduleField } from './schedule.ts';

export const DEFAULT_REFRESH_INTERVAL = '1h';

export const EXTERNAL_SECRET_REASONS = {
  Synced: 'Synced',
  SyncError: 'SyncError',
  StoreNotReady: 'StoreNotReady',
  InvalidSpec: 'InvalidSpec',
  /** The store does not admit this namespace, or Secrets Manager answered 403. */
  Forbidden: 'Forbidden',
  /** A remote secret this resource reads does not exist (deleted, or never created). */
  RemoteSecretNotFound: 'RemoteSecretNotFound',
  /** The target Secret exists and belongs to someone else (creationPolicy Owner). */
  TargetConflict: 'TargetConflict',
  /**
   * An iam_credentials secret that mints a new API key on every read (reuse_api_key false):
   * an ExternalSecret would pile up keys nobody revokes; an IAMCredentialLease renews and
   * revokes them. Not retried until the spec changes.
   */
  UseIAMCredentialLease: 'UseIAMCredentialLease',
} as const;

const exactlyOneIdOrName: Rule<{ id?: string | undefined; name?: string | undefined }> = {
  cel: 'has(self.id) != has(self.name)',
  message: 'set exactly one of id or name',
  holds: (value) => (value.id === undefined) !== (value.name === undefined),
};

const typeField = () =>
  SecretType.describe(
    'The secret type, as in Vault API paths: arbitrary, kv, username_password, imported_cert, ' +
      'public_cert, private_cert, service_credentials or iam_credentials. iam_credentials is ' +
      'served only when the secret reuses its API key (reuse_api_key: the same key comes back ' +
      'until its TTL ends); one that mints a new key on every read gets Ready=False with reason ' +
      'UseIAMCredentialLease and is not read again until the spec changes: use an ' +
      'IAMCredentialLease, which renews and revokes the keys.',
  );
const idField = () =>
  remoteId()
    .optional()
    .describe(
      'The secret ID (a GUID). Set id or name. Example: 0a1b2c3d-aaaa-bbbb-cccc-0123456789ab.',
    );
const nameField = () =>
  remoteName().optional().describe('The secret name. Set id or name. Example: db-password.');
const groupField = () =>
  remoteId()
    .optional()
    .describe('The ID of the secret group the secret is in. Default: the default group.');
const versionField = () =>
  remoteId()
    .optional()
    .describe(
      'Which version to read. Default: current. The Vault API of Secrets Manager serves only ' +
        'the current version of a secret, so any other value gets Ready=False with reason ' +
        'InvalidSpec (the field is kept for servers that serve versions).',
    );

export const RemoteRef = withRules(
  z
    .object({
      type: typeField(),
      id: idField(),
      name: nameField(),
      group: groupField(),
      property: z
        .string()
        .min(1)
        .max(253)
        .optional()
        .describe(
          'Which field of the secret to take. arbitrary: payload. kv: a path into the payload ' +
            'JSON, keys joined by "." and array items by index (database.host, ' +
            'database.replicas.0; a top-level key that itself contains "." is matched first); ' +
            'strings as they are, anything else as JSON. username_password: username or ' +
            'password. Certificates: certificate, private_key, intermediate, issuing_ca or ' +
            'ca_chain. service_credentials: a top-level key of the credentials (same path rules ' +
            'as kv). iam_credentials: api_key or service_id. Default: the payload for arbitrary, ' +
            'the secret data as JSON otherwise.',
        ),
      version: versionField(),
    })
    .describe('One secret in Secrets Manager. Example: {type: kv, name: db, property: password}.'),
  [exactlyOneIdOrName],
);
export type RemoteRef = z.infer<typeof RemoteRef>;

export const DECODING_STRATEGIES = ['None', 'Base64', 'Base64URL', 'Auto'] as const;
export type DecodingStrategy = (typeof DECODING_STRATEGIES)[number];

const decodingStrategyField = () =>
  z
    .enum(DECODING_STRATEGIES)
    .optional()
    .describe(
      'How a value read from Secrets Manager is decoded before it is written: None (default: as ' +
        'it is), Base64, Base64URL (URL-safe alphabet, padding optional), or Auto (Base64 or ' +
        'Base64URL when the value is one, else as it is). Decoded bytes are written exactly, so ' +
        'a keystore or any binary file can be kept base64-encoded in Secrets Manager. A value ' +
        'that is not in the given encoding gets Ready=False (SyncError) and nothing is written.',
    );

export const DataItem = z
  .object({
    secretKey: secretDataKey().describe(
      'The key to write in the target Secret. Example: password.',
    ),
    remoteRef: RemoteRef,
    decodingStrategy: decodingStrategyField(),
  })
  .describe('One key of the target Secret, taken from one secret (or one field of it).');
export type DataItem = z.infer<typeof DataItem>;

const keyPrefixField = (what: string) =>
  z
    .string()
    .max(128)
    .regex(/^[-._a-zA-Z0-9]*$/, { error: 'must consist of letters, digits, "-", "_" and "."' })
    .optional()
    .describe(`A prefix for every key ${what}. Default: none. Example: "db_".`);

export const ExtractSource = withRules(
  z
    .object({
      type: typeField(),
      id: idField(),
      name: nameField(),
      group: groupField(),
      version: versionField(),
      keyPrefix: keyPrefixField('this secret contributes'),
    })
    .describe(
      'Every field of one secret becomes a key: arbitrary: payload; kv and service_credentials: ' +
        'each top-level key (nested values as JSON); username_password: username, password; ' +
        'certificates: certificate, private_key, intermediate (and issuing_ca, ca_chain where ' +
        'present); iam_credentials: api_key, service_id. Example: {type: kv, name: app-config}.',
    ),
  [exactlyOneIdOrName],
);
export type ExtractSource = z.infer<typeof ExtractSource>;

export const FindSource = withRules(
  z
    .object({
      type: SecretType.optional().describe(
        'Only secrets of this type. Default: every type except iam_credentials (name it to ' +
          'include iam_credentials secrets that reuse their API key). Example: arbitrary.',
      ),
      group: groupField().describe(
        'Only secrets in this secret group (its ID). Default: any group.',
      ),
      labels: z
        .array(z.string().min(1).max(256))
        .max(30)
        .optional()
        .describe(
          'Only secrets that carry all of these Secrets Manager labels. Example: [payments, prod].',
        ),
      name: z
        .object({
          regexp: z
            .string()
            .min(1)
            .max(256)
            .superRefine((value, ctx) => {
              try {
                new RegExp(value, 'u');
              } catch {
                ctx.addIssue({ code: 'custom', message: 'must be a valid regular expression' });
              }
            })
            .describe(
              'A JavaScript regular expression the name must match (unanchored). Example: ^payments-.',
            ),
        })
        .optional()
        .describe('Only secrets whose name matches.'),
      keyPrefix: keyPrefixField('found here'),
    })
    .describe(
      'Every matching secret becomes one key named <keyPrefix><secret name>, with the value a ' +
        'data entry without property would have. Example: {type: arbitrary, labels: [payments]}.',
    ),
  [
    {
      cel: 'has(self.type) || has(self.group) || has(self.labels) || has(self.name)',
      message: 'set at least one filter: type, group, labels or name',
      holds: (value) =>
        value.type !== undefined ||
        value.group !== undefined ||
        value.labels !== undefined ||
        value.name !== undefined,
    },
  ],
);
export type FindSource = z.infer<typeof FindSource>;

export const DataFromItem = withRules(
  z
    .object({
      extract: ExtractSource.optional(),
      find: FindSource.optional(),
      decodingStrategy: decodingStrategyField(),
    })
    .describe('A source of many keys: set exactly one of extract or find.'),
  [
    {
      cel: 'has(self.extract) != has(self.find)',
      message: 'set exactly one of extract or find',
      holds: (value) => (value.extract === undefined) !== (value.find === undefined),
    },
  ],
);
export type DataFromItem = z.infer<typeof DataFromItem>;

export const CREATION_POLICIES = ['Owner', 'Merge', 'Orphan'] as const;
export const DELETION_POLICIES = ['Retain', 'Delete'] as const;

export const ExternalSecretTarget = withRules(
  z
    .object({
      name: objectName()
        .optional()
        .describe('The name of the Secret to write, in this namespace. Default: metadata.name.'),
      creationPolicy: z
        .enum(CREATION_POLICIES)
        .default('Owner')
        .describe(
          'Owner (default): create the Secret, owned by this ExternalSecret (garbage-collected ' +
            'with it); a Secret that exists and is not ours is left alone and reported as ' +
            'TargetConflict. Merge: write only our keys into a Secret someone else created ' +
            '(wait until it exists), never create or delete it. Orphan: create the Secret ' +
            'without an owner reference, so it stays when the ExternalSecret is deleted (unless ' +
            'deletionPolicy is Delete).',
        ),
      deletionPolicy: z
        .enum(DELETION_POLICIES)
        .default('Retain')
        .describe(
          'What to do with what we wrote when its source goes away: when every remote secret ' +
            'this resource reads has been deleted in Secrets Manager (404, and every find matches ' +
            'nothing), and when this ExternalSecret is deleted. Retain (default): keep the Secret ' +
            'with its last data (a remote deletion is reported as RemoteSecretNotFound). Delete: ' +
            'delete the Secret (with Merge: remove only our keys; an ExternalSecret with Orphan or ' +
            'Merge then carries a finalizer to do it on deletion). An Owner Secret is always ' +
            'deleted with its ExternalSecret. Failures of the remote side (errors, timeouts, ' +
            '429/5xx) never delete, blank or roll back a Secret.',
        ),
      type: z
        .string()
        .min(1)
        .max(253)
        .regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*$/, { error: 'must be a Secret type' })
        .optional()
        .describe(
          'The Secret type. Default: Opaque. Example: kubernetes.io/tls: a certificate secret extracted whole (dataFrom.extract of imported_cert, public_cert or private_cert, without keyPrefix) then becomes tls.crt (the certificate and its intermediates), tls.key and ca.crt.',
        ),
      labels: stringMap().optional().describe('Labels to set on the Secret. Example: {app: web}.'),
      annotations: stringMap()
        .optional()
        .describe('Annotations to set on the Secret. Example: {team: payments}.'),
    })
    .describe('The Kubernetes Secret to write, in the namespace of this ExternalSecret.'),
  [
    {
      cel: "self.creationPolicy != 'Merge' || !has(self.type)",
      message: 'type cannot be set with creationPolicy Merge (the existing Secret keeps its type)',
      holds: (value) => value.creationPolicy !== 'Merge' || value.type === undefined,
      field: 'type',
    },
  ],
);
export type ExternalSecretTarget = z.infer<typeof ExternalSecretTarget>;

export const ExternalSecretSpec = withRules(
  z
    .object({
      storeRef: storeRefField(),
      refreshInterval: durationField({ allowZero: true, min: '5s' })
        .optional()
        .describe(
          'How often to read Secrets Manager again and update the Secret, as a duration. 0: sync ' +
            'once. At least 5s. Default: 1h (when refreshSchedule is not set). Example: 15m.',
        ),
      refreshSchedule: scheduleField()
        .optional()
        .describe(
          'When to refresh, as a 5-field cron expression in UTC (minute hour day-of-month month ' +
            'day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly. Use this or ' +
            'refreshInterval. Example: "0 */6 * * *".',
        ),
      target: ExternalSecretTarget.default({ creationPolicy: 'Owner', deletionPolicy: 'Retain' }),
      data: listMap(DataItem, ['secretKey'], 256)
        .optional()
        .describe(
          'Keys of the target Secret, one remote secret (or field) each. Entries win over dataFrom ' +
            'on the same key. Example: [{secretKey: password, remoteRef: {type: username_password, ' +
            'name: db, property: password}}].',
        ),
      dataFrom: z
        .array(DataFromItem)
        .max(32)
        .optional()
        .describe(
          'Sources of many keys at once, applied in order (a later entry wins on the same key). ' +
            'Example: [{extract: {type: kv, name: app-config}}].',
        ),
      rolloutRestartTargets: rolloutRestartTargetsField(),
    })
    .describe('What to read from Secrets Manager, how often, and which Secret to write.'),
  [
    {
      cel: '!(has(self.refreshInterval) && has(self.refreshSchedule))',
      message: 'set at most one of refreshInterval or refreshSchedule',
      holds: (value) => value.refreshInterval === undefined || value.refreshSchedule === undefined,
    },
    {
      cel: '(has(self.data) && size(self.data) > 0) || (has(self.dataFrom) && size(self.dataFrom) > 0)',
      message: 'set at least one entry in data or dataFrom',
      holds: (value) => (value.data?.length ?? 0) > 0 || (value.dataFrom?.length ?? 0) > 0,
    },
  ],
);
export type ExternalSecretSpec = z.infer<typeof ExternalSecretSpec>;

/** At most this many sources are recorded; a resource with more follows changes by refresh. */
export const MAX_RECORDED_SOURCES = 1024;

const SyncSource = z
  .object({
    type: z.string().max(64).describe('The secret type. Example: arbitrary.'),
    id: z.string().max(256).describe('The secret ID.'),
    group: z
      .string()
      .max(256)
      .optional()
      .describe('The secret group ID; omitted for the default group.'),
    lastUpdateDate: z
      .string()
      .max(64)
      .optional()
      .describe("The secret's last_update_date when its value was read."),
  })
  .describe('One remote secret a Secret was synced from.');

export const ExternalSecretStatus = z
  .object({
    conditions: conditionList().optional(),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe('The metadata.generation the status was computed from.'),
    refreshTime: timestamp()
      .optional()
      .describe('When the Secret was last confirmed up to date with Secrets Manager.'),
    nextRefreshTime: timestamp().optional().describe('When the next refresh is due.'),
    syncedDataHash: z
      .string()
      .max(128)
      .optional()
      .describe(
        'An opaque digest of the keys and values last written; it changes exactly when the ' +
          'data changes and is keyed so it reveals nothing about the values.',
      ),
    secretName: z.string().max(253).optional().describe('The name of the Secret being written.'),
    sources: z
      .array(SyncSource)
      .max(MAX_RECORDED_SOURCES)
      .optional()
      .describe(
        'The remote secrets the Secret was last synced from, each with the last_update_date ' +
          'it had then (IDs and dates only, never values). After an operator restart, a resource ' +
          "whose sources still show these dates in the store's lists is neither read nor " +
          'written. iam_credentials and non-current versions are not listed.',
      ),
    forceSyncValue: z
      .string()
      .max(1024)
      .optional()
      .describe(
        'The value of the secrets-manager.dev/force-sync annotation that was last acted on; ' +
          'setting the annotation to any other value forces a sync.',
      ),
  })
  .describe('The observed state of the sync.');
export type ExternalSecretStatus = z.infer<typeof ExternalSecretStatus>;

export const ExternalSecret = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ExternalSecret'),
  metadata: ObjectMeta,
  spec: ExternalSecretSpec,
  status: ExternalSecretStatus.optional(),
});
export type ExternalSecret = z.infer<typeof ExternalSecret>;

export type RefreshPlan =
  | { kind: 'interval'; intervalMs: number }
  | { kind: 'once' }
  | { kind: 'schedule'; schedule: string };

/** How a (parsed, so valid) spec wants to be refreshed, with the 1h default applied. */
export function refreshPlan(
  spec: Pick<ExternalSecretSpec, 'refreshInterval' | 'refreshSchedule'>,
): RefreshPlan {
  if (spec.refreshSchedule !== undefined)
    return { kind: 'schedule', schedule: spec.refreshSchedule };
  const intervalMs = parseDuration(spec.refreshInterval ?? DEFAULT_REFRESH_INTERVAL);
  return intervalMs === 0 ? { kind: 'once' } : { kind: 'interval', intervalMs };
}

/** The name of the Secret an ExternalSecret writes. */
export function externalSecretTargetName(
  resource: Pick<ExternalSecret, 'metadata' | 'spec'>,
): string {
  return resource.spec.target.name ?? resource.metadata.name;
}
