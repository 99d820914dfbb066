// The chart's files read without helm: its version and defaults agree with the operator's, the
// defaults satisfy values.schema.json, and the RBAC rules cover every resource the controllers
// watch. Rendering and installing are tested with the helm binary in test/integration/helm/.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { OPTIONS } from '../../src/config/config.ts';
import { parseDuration } from '../../src/config/values.ts';
import { RESOURCE_TYPES } from '../../src/controllers/shared/resources.ts';

const chartDir = fileURLToPath(new URL('../../deploy/helm/', import.meta.url));
const read = (path: string) => readFileSync(join(chartDir, path), 'utf8');
const pkg = JSON.parse(readFileSync(join(chartDir, '../../package.json'), 'utf8')) as {
  name: string;
  version: string;
};
const chart = parseYaml(read('Chart.yaml')) as Record<string, unknown>;
const values = parseYaml(read('values.yaml')) as {
  image: { repository: string; tag: string };
  replicas: number;
  leaderElection: Record<string, string | boolean>;
  metrics: { port: number };
  healthProbe: { port: number };
  concurrency: number;
  logLevel: string;
  resyncPeriod: string;
  shutdownTimeout: string;
  terminationGracePeriodSeconds: number;
  [key: string]: unknown;
};
const schema = JSON.parse(read('values.schema.json')) as {
  properties: Record<string, unknown>;
};

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

/** The body of a `{{- define "name" -}}` block; the RBAC ones are plain YAML. */
function defined(name: string): Rule[] {
  const helpers = read('templates/_helpers.tpl');
  const start = helpers.indexOf(`{{- define "${name}" -}}`);
  if (start < 0) throw new Error(`no define ${name}`);
  const body = helpers.slice(
    helpers.indexOf('\n', start) + 1,
    helpers.indexOf('{{- end -}}', start),
  );
  return parseYaml(body) as Rule[];
}

describe('Chart.yaml', () => {
  it('names the chart after the project and takes its version as appVersion', () => {
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe(pkg.name);
    expect(chart.appVersion).toBe(pkg.version);
    expect(String(chart.version)).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('values.yaml', () => {
  it('defaults the image to secrets-manager-operator at the appVersion', () => {
    expect(values.image.repository).toBe('secrets-manager-operator');
    expect(values.image.tag).toBe('');
  });

  it('runs two replicas under leader election by default', () => {
    expect(values.replicas).toBe(2);
    expect(values.leaderElection.enabled).toBe(true);
  });

  it("agrees with the operator's own defaults", () => {
    const port = (address: string) => Number(address.replace(/^.*:/, ''));
    expect(values.metrics.port).toBe(port(OPTIONS.metricsBindAddress.default));
    expect(values.healthProbe.port).toBe(port(OPTIONS.healthProbeBindAddress.default));
    expect(String(values.concurrency)).toBe(OPTIONS.concurrency.default);
    expect(values.logLevel).toBe(OPTIONS.logLevel.default);
    expect(values.resyncPeriod).toBe(OPTIONS.resyncPeriod.default);
    expect(values.shutdownTimeout).toBe(OPTIONS.shutdownTimeout.default);
    expect(values.leaderElection.leaseDuration).toBe(OPTIONS.leaseDuration.default);
    expect(values.leaderElection.renewDeadline).toBe(OPTIONS.renewDeadline.default);
    expect(values.leaderElection.retryPeriod).toBe(OPTIONS.retryPeriod.default);
  });

  it('gives the pod longer to stop than the operator takes to shut down', () => {
    const shutdownMs = parseDuration(values.shutdownTimeout) ?? Number.NaN;
    expect(values.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs);
  });

  it('satisfies values.schema.json, which knows every key', () => {
    expect(Object.keys(values).sort()).toEqual(
      Object.keys(schema.properties)
        .filter((k) => k !== 'global')
        .sort(),
    );
    const validate = z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
    const result = validate.safeParse(values);
    expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
    expect(validate.safeParse({ ...values, replica: 3 }).success).toBe(false);
    expect(validate.safeParse({ ...values, logLevel: 'loud' }).success).toBe(false);
  });
});

describe('RBAC rules', () => {
  const namespaced = defined('smo.namespacedRules');
  const cluster = defined('smo.clusterRules');
  const allows = (rules: Rule[], group: string, resource: string, verb: string) =>
    rules.some(
      (r) =>
        r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb),
    );

  it('let the operator list and watch every resource its informers watch', () => {
    for (const type of Object.values(RESOURCE_TYPES)) {
      const rules = type.namespaced ? namespaced : cluster;
      for (const verb of ['list', 'watch']) {
        expect(allows(rules, type.group, type.plural, verb), `${verb} ${type.plural}`).toBe(true);
      }
    }
  });

  it('write status only through the status subresource, and never use wildcards', () => {
    for (const rule of [...namespaced, ...cluster]) {
      for (const field of [rule.apiGroups, rule.resources, rule.verbs])
        expect(field).not.toContain('*');
      for (const resource of rule.resources.filter((r) => r.endsWith('/status'))) {
        expect(rule.verbs, resource).toEqual(['patch']);
      }
    }
    for (const kind of [
      'externalsecrets',
      'iamcredentialleases',
      'secretstores',
      'clustersecretstores',
      'clusterexternalsecrets',
    ]) {
      const rules = kind.startsWith('cluster') ? cluster : namespaced;
      // ExternalSecrets are created and deleted for ClusterExternalSecrets, nothing else.
      const verbs = kind === 'externalsecrets' ? ['update'] : ['create', 'update', 'delete'];
      for (const verb of verbs) {
        expect(allows(rules, 'secrets-manager.dev', kind, verb), `${verb} ${kind}`).toBe(false);
      }
    }
  });

  it('let the operator create and delete the ExternalSecrets of ClusterExternalSecrets', () => {
    for (const verb of ['create', 'patch', 'delete']) {
      expect(allows(namespaced, 'secrets-manager.dev', 'externalsecrets', verb), verb).toBe(true);
    }
    expect(allows(cluster, 'secrets-manager.dev', 'clusterexternalsecrets/status', 'patch')).toBe(
      true,
    );
  });
});
