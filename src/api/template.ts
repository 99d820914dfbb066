// spec.target.template: how the target Secret is built from the values read (ExternalSecret) or
// the leased credential (IAMCredentialLease). Shared by both kinds.
import { z } from 'zod';
import { objectName, secretDataKey, stringMap } from './common.ts';
import { type Rule, withRules } from './rules.ts';

/** The longest template accepted, inline or from a ConfigMap (the engine enforces it too). */
export const MAX_TEMPLATE_CHARS = 65_536;

export const MERGE_POLICIES = ['Replace', 'Merge'] as const;
export type MergePolicy = (typeof MERGE_POLICIES)[number];

export const TemplateFromItem = z
  .object({
    configMap: z
      .object({
        name: objectName().describe('The ConfigMap, in the namespace of this resource.'),
        items: z
          .array(
            z
              .object({
                key: secretDataKey().describe('The ConfigMap key that holds the template.'),
                secretKey: secretDataKey()
                  .optional()
                  .describe('The Secret key to render it into. Default: the same as key.'),
              })
              .describe('One template of the ConfigMap.'),
          )
          .max(64)
          .optional()
          .describe(
            'Which keys of the ConfigMap are templates. Default: every key of its data, each ' +
              'rendered into the Secret key of the same name.',
          ),
      })
      .describe(
        'A ConfigMap whose values are templates. It is read on every sync and watched: a change ' +
          'renders the Secret again. A missing ConfigMap or key gives Ready=False (TemplateError).',
      ),
  })
  .describe('A source of templates kept outside this resource.');
export type TemplateFromItem = z.infer<typeof TemplateFromItem>;

const templateType = () =>
  z
    .string()
    .min(1)
    .max(253)
    .regex(/^[A-Za-z0-9][-A-Za-z0-9_./]*$/, { error: 'must be a Secret type' });

export function secretTemplateSchema(kind: 'ExternalSecret' | 'IAMCredentialLease') {
  const inputs =
    kind === 'ExternalSecret'
      ? 'every key read (the keys of data and dataFrom, as .key or index . "key.with.dots"); a ' +
        'value holding a JSON object (kv, username_password, certificates, service_credentials ' +
        'read without property) can be read by field: .db.username'
      : 'the credential under the key names of target.keys (default .apikey and .service_id)';
  const mergePolicy =
    kind === 'ExternalSecret'
      ? z
          .enum(MERGE_POLICIES)
          .optional()
          .describe(
            'Replace (default): the Secret holds only the rendered keys; the keys read are ' +
              'inputs only. Merge: the keys read are written too, and a rendered key of the same ' +
              'name wins.',
          )
      : z
          .enum(MERGE_POLICIES)
          .optional()
          .describe(
            'Merge (the only value, and the default): the credential keys (target.keys) stay in ' +
              'the Secret beside the rendered keys, because the Secret is the only copy of the key ' +
              'and the operator reads it back to render again and to tell it still holds the ' +
              'credential.',
          );
  const rules: Rule<{ mergePolicy?: MergePolicy | undefined }>[] =
    kind === 'IAMCredentialLease'
      ? [
          {
            cel: "!has(self.mergePolicy) || self.mergePolicy == 'Merge'",
            message: 'an IAMCredentialLease keeps its credential keys: mergePolicy must be Merge',
            holds: (v) => v.mergePolicy === undefined || v.mergePolicy === 'Merge',
            field: 'mergePolicy',
          },
        ]
      : [];
  return withRules(
    z
      .object({
        type: templateType()
          .optional()
          .describe(
            'The Secret type. Default: target.type, else Opaque. Example: ' +
              'kubernetes.io/dockerconfigjson.',
          ),
        metadata: z
          .object({
            labels: stringMap()
              .optional()
              .describe('Labels for the Secret, over those of target.labels (not templates).'),
            annotations: stringMap()
              .optional()
              .describe(
                'Annotations for the Secret, over those of target.annotations (not templates).',
              ),
          })
          .optional()
          .describe('Labels and annotations of the rendered Secret.'),
        mergePolicy,
        data: z
          .record(secretDataKey(), z.string().max(MAX_TEMPLATE_CHARS))
          .optional()
          .describe(
            'Secret key -> template, in Go text/template syntax: {{ .password }}, pipelines ' +
              '{{ .password | b64enc }}, calls {{ dockerConfigJson "icr.io" "iamapikey" .apikey }}, ' +
              '{{ if }}/{{ else }}/{{ end }} and {{ range }}. Functions: b64enc, b64dec, toJson, ' +
              'fromJson, upper, lower, trim, trimPrefix, trimSuffix, replace, default, quote, ' +
              'urlquery, join, index, len, eq, ne, not, and, or, filterPEM, pemLeaf, pemChain, ' +
              'pemPrivateKey, pemFullChain, dockerConfigJson. Inputs: ' +
              inputs +
              '. Each template has at most 65536 characters, renders at most 512 KiB and in at ' +
              'most 100000 steps; a resource has at most 64 templates, sharing 200000 steps; a template that fails gives Ready=False with reason ' +
              'TemplateError naming the key and line:column, and nothing is written. Entries win ' +
              'over templateFrom. Example: {DATABASE_URL: "postgres://{{ .db.username | urlquery ' +
              '}}:{{ .db.password | urlquery }}@db:5432/app"}.',
          ),
        templateFrom: z
          .array(TemplateFromItem)
          .max(8)
          .optional()
          .describe(
            'Templates kept in ConfigMaps of this namespace, applied in order before data.',
          ),
      })
      .describe(
        'Build the Secret from templates instead of copying the values: its type, labels, ' +
          'annotations, and each key rendered from a template over ' +
          inputs +
          '.',
      ),
    rules,
  );
}

export const ExternalSecretTemplate = secretTemplateSchema('ExternalSecret');
export type SecretTemplate = z.infer<typeof ExternalSecretTemplate>;
export const LeaseTemplate = secretTemplateSchema('IAMCredentialLease');

/** The ConfigMaps a template reads, by name. */
export function templateConfigMaps(template: SecretTemplate | undefined): string[] {
  return [...new Set((template?.templateFrom ?? []).map((item) => item.configMap.name))];
}
