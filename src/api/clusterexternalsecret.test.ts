import { describe, expect, it } from 'vitest';
import { clusterExternalSecretTargetName } from './clusterexternalsecret.ts';
import { buildCrd, KIND_DEFINITIONS } from './crd.ts';
import * as examples from './examples.ts';
import { parseClusterExternalSecret } from './parse.ts';

// biome-ignore lint/suspicious/noExplicitAny: test fixtures are edited freely
type Draft = any;

function edit(change: (copy: Draft) => void): unknown {
  const copy = structuredClone(examples.exampleClusterExternalSecret) as Draft;
  change(copy);
  return copy;
}

describe('ClusterExternalSecret', () => {
  it('parses the example, with the ExternalSecret defaults applied inside externalSecretSpec', () => {
    const result = parseClusterExternalSecret(
      edit((ces) => {
        delete ces.spec.externalSecretName;
        delete ces.spec.externalSecretSpec.storeRef;
        delete ces.spec.externalSecretSpec.target;
      }),
    );
    if (!result.ok) throw new Error(result.message);
    expect(result.value.spec.externalSecretSpec.storeRef).toEqual({
      kind: 'ClusterSecretStore',
      name: 'default',
    });
    expect(result.value.spec.externalSecretSpec.target).toEqual({
      creationPolicy: 'Owner',
      deletionPolicy: 'Retain',
    });
    expect(clusterExternalSecretTargetName(result.value)).toBe('registry-pull-secret');
  });

  it('names its ExternalSecret externalSecretName when given', () => {
    const result = parseClusterExternalSecret(examples.exampleClusterExternalSecret);
    if (!result.ok) throw new Error(result.message);
    expect(clusterExternalSecretTargetName(result.value)).toBe('registry');
  });

  it.each([
    [
      'no namespaces and no selectors',
      (ces: Draft) => {
        delete ces.spec.namespaces;
        ces.spec.namespaceSelectors = [];
      },
      'set at least one entry in namespaceSelectors or namespaces',
    ],
    [
      'an ExternalSecret spec with both refresh fields',
      (ces: Draft) => {
        ces.spec.externalSecretSpec.refreshSchedule = '@daily';
      },
      'spec.externalSecretSpec: set at most one of refreshInterval or refreshSchedule',
    ],
    [
      'a namespace name that is not one',
      (ces: Draft) => {
        ces.spec.namespaces = ['Not_A_Namespace'];
      },
      'spec.namespaces[0]: must be a namespace name',
    ],
    [
      'a refreshTime under 10s',
      (ces: Draft) => {
        ces.spec.refreshTime = '1s';
      },
      'spec.refreshTime: must be at least 10s',
    ],
  ])('refuses %s', (_name, change, message) => {
    const result = parseClusterExternalSecret(edit(change));
    expect(result.ok ? '' : result.message).toContain(message);
  });

  it('serves the whole ExternalSecret spec schema, so a field added there is here too', () => {
    const crdOf = (kind: string) => {
      const definition = KIND_DEFINITIONS.find((d) => d.kind === kind);
      if (!definition) throw new Error(kind);
      return buildCrd(definition).spec.versions[0]?.schema.openAPIV3Schema;
    };
    // biome-ignore lint/suspicious/noExplicitAny: walking generated schemas
    const es = (crdOf('ExternalSecret') as any).properties.spec;
    // biome-ignore lint/suspicious/noExplicitAny: walking generated schemas
    const ces = (crdOf('ClusterExternalSecret') as any).properties.spec;
    const { description: _a, ...esSpec } = es;
    const { description: _b, ...embedded } = ces.properties.externalSecretSpec;
    expect(embedded).toEqual(esSpec);
    expect(ces.required).toContain('externalSecretSpec');
  });
});
