// spec.target.template of either kind: gathers the templates (ConfigMaps of templateFrom, then
// data), renders each over the inputs with the sandboxed engine of src/template/, and says which
// ConfigMap versions it used, so a change of one of them can be noticed from the watch cache.
// Failures name the key and line:column, never a value: the engine's messages quote template
// text at most, and nothing here adds input data.
import type { SecretTemplate } from '../../api/index.ts';
import type { Informer, KubeObject } from '../../runtime/informer.ts';
import { isApiError } from '../../runtime/kube.ts';
import type { CoreApi } from '../../runtime/kubeapi.ts';
import {
  compileTemplate,
  DEFAULT_LIMITS,
  formatProblem,
  renderTemplate,
} from '../../template/index.ts';
import { byCodeUnit } from './order.ts';
import type { SecretValue } from './secrets.ts';

/** Where templateFrom ConfigMaps are read (the API server) and watched (a metadata cache). */
export interface ConfigMapSource {
  /** The ConfigMap's data and resourceVersion, or undefined when it does not exist. */
  read(
    namespace: string,
    name: string,
  ): Promise<{ data: Record<string, string>; resourceVersion: string } | undefined>;
  /** The resourceVersion the watch cache holds, or undefined when it has none. */
  cachedVersion(namespace: string, name: string): string | undefined;
}

export type ConfigMapsApi = Pick<CoreApi, 'readNamespacedConfigMap'>;

/** ConfigMaps read from the API server (always fresh) and watched through `informer`. */
export function configMapSource(
  core: ConfigMapsApi,
  informer: Pick<Informer<KubeObject>, 'get'>,
): ConfigMapSource {
  return {
    async read(namespace, name) {
      try {
        const cm = await core.readNamespacedConfigMap({ namespace, name });
        return { data: cm.data ?? {}, resourceVersion: cm.metadata?.resourceVersion ?? '' };
      } catch (err) {
        if (isApiError(err, 404)) return undefined;
        throw err;
      }
    },
    cachedVersion: (namespace, name) => informer.get(namespace, name)?.metadata.resourceVersion,
  };
}

export type Rendered =
  | {
      ok: true;
      /** The rendered keys only. */
      data: Record<string, SecretValue>;
      /** The ConfigMap versions used, for `templateSourcesChanged`. */
      sources: string | undefined;
    }
  | { ok: false; message: string };

const FIELD = 'spec.target.template';
/** Templates one resource may have (data and templateFrom together). */
export const MAX_TEMPLATES = 64;
/** Interpreter steps all the templates of one resource may take together. */
export const MAX_RESOURCE_STEPS = 2 * DEFAULT_LIMITS.maxSteps;

/**
 * Renders every template of `template` over `inputs`. templateFrom entries in order, then data
 * (which wins on the same key).
 */
export async function renderSecretTemplate(
  template: SecretTemplate,
  inputs: Readonly<Record<string, SecretValue>>,
  namespace: string,
  configMaps: ConfigMapSource,
): Promise<Rendered> {
  const sources: { key: string; source: string; where: string }[] = [];
  const versions = new Map<string, string>();
  for (const [i, item] of (template.templateFrom ?? []).entries()) {
    const { name, items } = item.configMap;
    const cm = await configMaps.read(namespace, name);
    versions.set(name, cm?.resourceVersion ?? '');
    if (!cm) {
      return fail(`${FIELD}.templateFrom[${i}]: ConfigMap ${name} does not exist in ${namespace}`);
    }
    const wanted = items ?? Object.keys(cm.data).map((key) => ({ key, secretKey: key }));
    for (const { key, secretKey } of wanted) {
      if (!Object.hasOwn(cm.data, key)) {
        return fail(`${FIELD}.templateFrom[${i}]: ConfigMap ${name} has no key ${key}`);
      }
      const target = secretKey ?? key;
      sources.push({
        key: target,
        source: cm.data[key] as string,
        where: `ConfigMap ${name} key ${key} (Secret key ${target})`,
      });
    }
  }
  for (const [key, source] of Object.entries(template.data ?? {})) {
    sources.push({ key, source, where: `${FIELD}.data key ${key}` });
  }
  const data: Record<string, SecretValue> = {};
  const byKey = new Map(sources.map((s) => [s.key, s]));
  if (byKey.size > MAX_TEMPLATES) {
    return fail(`${FIELD}: ${byKey.size} templates; at most ${MAX_TEMPLATES} are allowed`);
  }
  let budget = MAX_RESOURCE_STEPS;
  for (const { key, source, where } of byKey.values()) {
    const compiled = compileTemplate(source);
    if (!compiled.ok) return fail(`${where}: ${formatProblem(compiled.problem)}`);
    const limits = { ...DEFAULT_LIMITS, maxSteps: Math.min(DEFAULT_LIMITS.maxSteps, budget) };
    const rendered = renderTemplate(compiled.template, inputs, limits);
    if (!rendered.ok) {
      const shared =
        limits.maxSteps < DEFAULT_LIMITS.maxSteps && /steps$/.test(rendered.problem.message);
      const why = shared
        ? ` (the templates of one resource share ${MAX_RESOURCE_STEPS} steps)`
        : '';
      return fail(`${where}: ${formatProblem(rendered.problem)}${why}`);
    }
    budget -= rendered.steps;
    data[key] = rendered.value;
  }
  return { ok: true, data, sources: stamp(versions) };
}

function fail(message: string): Rendered {
  return { ok: false, message };
}

function stamp(versions: ReadonlyMap<string, string>): string | undefined {
  if (versions.size === 0) return undefined;
  return [...versions]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([name, version]) => `${name}=${version}`)
    .join(',');
}

/**
 * Whether a templateFrom ConfigMap changed (in the watch cache) since `recorded` was rendered.
 * Without a record (nothing rendered yet, or no templateFrom) there is nothing to compare.
 */
export function templateSourcesChanged(
  template: SecretTemplate | undefined,
  namespace: string,
  configMaps: ConfigMapSource,
  recorded: string | undefined,
): boolean {
  const names = [...new Set((template?.templateFrom ?? []).map((t) => t.configMap.name))];
  if (names.length === 0 || recorded === undefined) return false;
  const now = new Map(names.map((n) => [n, configMaps.cachedVersion(namespace, n) ?? '']));
  return stamp(now) !== recorded;
}

/** The Secret data: the rendered keys alone (Replace), or over the keys read (Merge). */
export function mergeRendered(
  template: SecretTemplate,
  read: Readonly<Record<string, SecretValue>>,
  rendered: Readonly<Record<string, SecretValue>>,
): Record<string, SecretValue> {
  return template.mergePolicy === 'Merge' ? { ...read, ...rendered } : { ...rendered };
}

/** spec.templateFrom ConfigMap names of a raw resource (no full parse: invalid ones count too). */
export function referencedConfigMaps(obj: KubeObject): string[] {
  const spec = obj.spec as
    | { target?: { template?: { templateFrom?: { configMap?: { name?: unknown } }[] } } }
    | undefined;
  const from = spec?.target?.template?.templateFrom;
  if (!Array.isArray(from)) return [];
  return from.flatMap((t) => (typeof t?.configMap?.name === 'string' ? [t.configMap.name] : []));
}
