// spec.target.template for the ExternalSecret reconciler: whether a templateFrom ConfigMap moved
// since the last render, and the Secret data built from the keys read.
import type { ExternalSecret } from '../../api/index.ts';
import type { SecretValue } from '../shared/secrets.ts';
import {
  type ConfigMapSource,
  mergeRendered,
  renderSecretTemplate,
  templateSourcesChanged,
} from '../shared/template.ts';
import { isBlocked } from './decide.ts';

/** A templateFrom ConfigMap changed since the last render (seen in the watch cache). */
export function templateMoved(es: ExternalSecret, configMaps: ConfigMapSource): boolean {
  if (isBlocked(es) || es.status?.syncedDataHash === undefined) return false;
  return templateSourcesChanged(
    es.spec.target.template,
    es.metadata.namespace as string,
    configMaps,
    es.status.templateSources,
  );
}

export type Built =
  | { ok: true; data: Record<string, SecretValue>; sources: string | undefined }
  | { ok: false; message: string };

/** The Secret data: what was read, or what the template renders from it. */
export async function buildData(
  es: ExternalSecret,
  read: Record<string, SecretValue>,
  configMaps: ConfigMapSource,
): Promise<Built> {
  const template = es.spec.target.template;
  if (!template) return { ok: true, data: read, sources: undefined };
  const namespace = es.metadata.namespace as string;
  const rendered = await renderSecretTemplate(template, read, namespace, configMaps);
  if (!rendered.ok) return rendered;
  return {
    ok: true,
    data: mergeRendered(template, read, rendered.data),
    sources: rendered.sources,
  };
}
