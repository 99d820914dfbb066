import { z } from 'zod';
import { SECRET_TYPES } from '../secretsmanager/types.ts';
import { DEFAULT_STORE_NAME } from './group.ts';
import { withRules } from './rules.ts';

// Patterns are written in the subset that Go's RE2 (the API server) and JavaScript agree on.

export const DNS_SUBDOMAIN_PATTERN =
  '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const SECRET_KEY_PATTERN = '^[-._a-zA-Z0-9]+$';
/** Secret IDs, secret group IDs and version IDs are GUIDs; `default`, `current`, `previous` fit too. */
export const REMOTE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9-]*$';
/** Secrets Manager names; they end up in a URL path, so no `/`, `?`, `#`, `%` and no `.`/`..`. */
export const REMOTE_NAME_PATTERN = '^[A-Za-z0-9_-][A-Za-z0-9_.-]*$';

/** The name of a Kubernetes object such as a Secret, a store or a Deployment. */
export const objectName = () =>
  z.string().min(1).max(253).regex(new RegExp(DNS_SUBDOMAIN_PATTERN), {
    error: 'must be a lowercase DNS subdomain name (a-z, 0-9, "-" and ".")',
  });

export const namespaceName = () =>
  z.string().min(1).max(63).regex(new RegExp(DNS_LABEL_PATTERN), {
    error: 'must be a namespace name (lowercase a-z, 0-9 and "-")',
  });

/** A key of a Kubernetes Secret's `data`. */
export const secretDataKey = () =>
  z.string().min(1).max(253).regex(new RegExp(SECRET_KEY_PATTERN), {
    error: 'must be a valid Secret key (letters, digits, "-", "_" and ".")',
  });

export const remoteId = () =>
  z
    .string()
    .min(1)
    .max(64)
    .regex(new RegExp(REMOTE_ID_PATTERN), { error: 'must be an ID (letters, digits and "-")' });

export const remoteName = () =>
  z.string().min(1).max(256).regex(new RegExp(REMOTE_NAME_PATTERN), {
    error: 'must be a secret name (letters, digits, "-", "_" and ".", not starting with ".")',
  });

/** RFC 3339 timestamps as the API server writes them (`2026-01-02T03:04:05Z`). */
export const timestamp = () => z.iso.datetime({ offset: true });

export const stringMap = () => z.record(z.string(), z.string());

/** The secret types of Secrets Manager, as they appear in Vault API paths. */
export { SECRET_TYPES };
export const SecretType = z.enum(SECRET_TYPES);
export type SecretType = z.infer<typeof SecretType>;

/**
 * An array the API server treats as a map keyed by `keys` (server-side apply merges entries by
 * key and rejects duplicates); zod rejects duplicates too.
 */
export function listMap<T extends z.ZodObject>(
  item: T,
  keys: readonly (keyof z.output<T> & string)[],
  maxItems: number,
) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((items, ctx) => {
      const seen = new Set<string>();
      items.forEach((entry, index) => {
        const record = entry as Record<string, unknown>;
        const id = keys.map((key) => `${key}=${String(record[key])}`).join(',');
        if (seen.has(id)) {
          ctx.addIssue({ code: 'custom', message: `duplicate entry ${id}`, path: [index] });
        }
        seen.add(id);
      });
    })
    .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': [...keys] });
}

// --- Conditions (Kubernetes API conventions, the shape of metav1.Condition) ---

export const ConditionStatus = z.enum(['True', 'False', 'Unknown']);
export type ConditionStatus = z.infer<typeof ConditionStatus>;

export const CONDITION_TYPE_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$';
export const CONDITION_REASON_PATTERN = '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$';

export const Condition = z
  .object({
    type: z
      .string()
      .min(1)
      .max(316)
      .regex(new RegExp(CONDITION_TYPE_PATTERN), { error: 'must be a CamelCase condition type' })
      .describe('The aspect this condition reports on, in CamelCase. Example: Ready.'),
    status: ConditionStatus.describe('Whether the condition holds: True, False or Unknown.'),
    observedGeneration: z
      .number()
      .int()
      .min(0)
      .optional()
      .describe(
        'The metadata.generation of the resource this condition was computed from. When it is ' +
          'lower than metadata.generation, the condition is out of date.',
      ),
    lastTransitionTime: timestamp().describe(
      'When status last changed (not when the condition was last checked). Example: 2026-01-02T03:04:05Z.',
    ),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(new RegExp(CONDITION_REASON_PATTERN), { error: 'must be a CamelCase reason' })
      .describe('A CamelCase code for why the condition is in its status. Example: Synced.'),
    message: z
      .string()
      .max(32768)
      .describe(
        'A human-readable explanation, with what to do about it. Never contains secret values.',
      ),
  })
  .describe('The state of one aspect of the resource, as in Kubernetes API conventions.');
export type Condition = z.infer<typeof Condition>;

export const conditionList = () =>
  listMap(Condition, ['type'], 16).describe(
    'The latest observations of the resource state. `Ready` is the one to watch: ' +
      '`kubectl wait --for=condition=Ready`.',
  );

// --- Label selectors (the shape of metav1.LabelSelector) ---

export const LabelSelectorRequirement = withRules(
  z
    .object({
      key: z.string().min(1).max(317).describe('The label key the requirement applies to.'),
      operator: z
        .enum(['In', 'NotIn', 'Exists', 'DoesNotExist'])
        .describe('How the key relates to values: In, NotIn, Exists or DoesNotExist.'),
      values: z
        .array(z.string().max(63))
        .max(64)
        .optional()
        .describe(
          'Values for In and NotIn (at least one); must be empty for Exists and DoesNotExist.',
        ),
    })
    .describe('One label requirement. Example: {key: team, operator: In, values: [payments]}.'),
  [
    {
      cel: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: 'In and NotIn need at least one value; Exists and DoesNotExist take none',
      holds: (value) =>
        value.operator === 'In' || value.operator === 'NotIn'
          ? (value.values?.length ?? 0) > 0
          : (value.values?.length ?? 0) === 0,
    },
  ],
);
export type LabelSelectorRequirement = z.infer<typeof LabelSelectorRequirement>;

export const LabelSelector = z
  .object({
    matchLabels: stringMap()
      .optional()
      .describe('Labels that must all be present with these values. Example: {team: payments}.'),
    matchExpressions: z
      .array(LabelSelectorRequirement)
      .max(32)
      .optional()
      .describe('Requirements that must all hold.'),
  })
  .describe('A label query; an empty selector matches everything.')
  .meta({ 'x-kubernetes-map-type': 'atomic' });
export type LabelSelector = z.infer<typeof LabelSelector>;

// --- References ---

export const STORE_KINDS = ['SecretStore', 'ClusterSecretStore'] as const;

export const StoreRef = z
  .object({
    kind: z
      .enum(STORE_KINDS)
      .default('SecretStore')
      .describe(
        'SecretStore (in this namespace) or ClusterSecretStore (cluster-wide, if it admits this ' +
          'namespace). Default: SecretStore.',
      ),
    name: objectName().describe('The name of the store. Example: team-secrets.'),
  })
  .describe(
    'The store to read from. Default: the ClusterSecretStore named "default". ' +
      'Example: {kind: SecretStore, name: team-secrets}.',
  );
export type StoreRef = z.infer<typeof StoreRef>;

/** `storeRef` with the documented default; applied by the API server and by zod alike. */
export const storeRefField = () =>
  StoreRef.default({ kind: 'ClusterSecretStore', name: DEFAULT_STORE_NAME });

export const RolloutRestartTarget = z
  .object({
    kind: z
      .enum(['Deployment', 'StatefulSet', 'DaemonSet'])
      .describe('The kind of workload: Deployment, StatefulSet or DaemonSet.'),
    name: objectName().describe('The name of the workload, in the same namespace. Example: web.'),
  })
  .describe('A workload to restart (as `kubectl rollout restart` does) after the Secret changes.');
export type RolloutRestartTarget = z.infer<typeof RolloutRestartTarget>;

export const rolloutRestartTargetsField = () =>
  listMap(RolloutRestartTarget, ['kind', 'name'], 32)
    .optional()
    .describe(
      'Workloads in this namespace to restart after the target Secret changes, so that pods ' +
        'reading it through environment variables pick up the new values (mounted files update ' +
        'on their own). Not restarted on the first write or when nothing changed. ' +
        'Example: [{kind: Deployment, name: web}].',
    );

// --- Object metadata (parsed, not part of the CRD schemas) ---

const timeLike = z.union([z.string(), z.date().transform((date) => date.toISOString())]);

/** The parts of metadata the controllers use; everything else is kept as it came. */
export const ObjectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: timeLike.optional(),
  deletionTimestamp: timeLike.optional(),
  labels: stringMap().optional(),
  annotations: stringMap().optional(),
  finalizers: z.array(z.string()).optional(),
});
export type ObjectMeta = z.infer<typeof ObjectMeta>;
