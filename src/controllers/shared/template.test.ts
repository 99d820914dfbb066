import { describe, expect, it } from 'vitest';
import type { SecretTemplate } from '../../api/index.ts';
import {
  type ConfigMapSource,
  MAX_TEMPLATES,
  mergeRendered,
  referencedConfigMaps,
  renderSecretTemplate,
  templateSourcesChanged,
} from './template.ts';

function configMaps(
  maps: Record<string, { data: Record<string, string>; resourceVersion: string }>,
  cached: Record<string, string> = {},
): ConfigMapSource {
  return {
    read: async (_ns, name) => maps[name],
    cachedVersion: (_ns, name) => cached[name],
  };
}

const inputs = { user: 'app', pw: 'secret-pw' };

describe('renderSecretTemplate', () => {
  it('renders templateFrom in order, then data on top, and records the ConfigMap versions', async () => {
    const cms = configMaps({
      a: { data: { one: 'a1 {{ .user }}', two: 'a2' }, resourceVersion: '10' },
      b: { data: { one: 'b1', other: 'b-other' }, resourceVersion: '20' },
    });
    const template: SecretTemplate = {
      templateFrom: [
        { configMap: { name: 'a' } },
        {
          configMap: { name: 'b', items: [{ key: 'one' }, { key: 'other', secretKey: 'renamed' }] },
        },
      ],
      data: { two: 'inline {{ .pw | upper }}' },
    };
    const out = await renderSecretTemplate(template, inputs, 'ns', cms);
    expect(out).toEqual({
      ok: true,
      data: { one: 'b1', two: 'inline SECRET-PW', renamed: 'b-other' },
      sources: 'a=10,b=20',
    });
  });

  it('names a missing ConfigMap or key, and the key and position of a failing template', async () => {
    const cms = configMaps({ a: { data: { t: 'x' }, resourceVersion: '1' } });
    const missing = await renderSecretTemplate(
      { templateFrom: [{ configMap: { name: 'nope' } }] },
      inputs,
      'ns',
      cms,
    );
    expect(missing).toEqual({
      ok: false,
      message: 'spec.target.template.templateFrom[0]: ConfigMap nope does not exist in ns',
    });
    const noKey = await renderSecretTemplate(
      { templateFrom: [{ configMap: { name: 'a', items: [{ key: 'u' }] } }] },
      inputs,
      'ns',
      cms,
    );
    expect(noKey).toEqual({
      ok: false,
      message: 'spec.target.template.templateFrom[0]: ConfigMap a has no key u',
    });
    const bad = await renderSecretTemplate(
      { data: { f: 'ok\n  {{ .pw | nosuch }}' } },
      inputs,
      'ns',
      cms,
    );
    expect(bad).toEqual({
      ok: false,
      message: 'spec.target.template.data key f: 2:12: unknown function "nosuch"',
    });
  });

  it('bounds the number of templates and the steps one resource takes in all', async () => {
    const many = Object.fromEntries(
      Array.from({ length: MAX_TEMPLATES + 1 }, (_, i) => [`k${i}`, 'x']),
    );
    const tooMany = await renderSecretTemplate({ data: many }, inputs, 'ns', configMaps({}));
    expect(tooMany.ok ? '' : tooMany.message).toBe(
      `spec.target.template: ${MAX_TEMPLATES + 1} templates; at most ${MAX_TEMPLATES} are allowed`,
    );
    // Each template alone stays under its own bound; together they exceed the shared one.
    const list = JSON.stringify(Array.from({ length: 200 }, (_, i) => i));
    const heavy = '{{ range fromJson .l }}{{ range fromJson $.l }}{{ end }}{{ end }}';
    const shared = await renderSecretTemplate(
      { data: { a: heavy, b: heavy, c: heavy, d: heavy, e: heavy, f: heavy } },
      { l: list },
      'ns',
      configMaps({}),
    );
    expect(shared.ok ? '' : shared.message).toMatch(
      /key [a-f]: .*more than \d+ steps \(the templates of one resource share 200000 steps\)$/,
    );
    const one = await renderSecretTemplate(
      { data: { a: heavy } },
      { l: list },
      'ns',
      configMaps({}),
    );
    expect(one.ok).toBe(true);
  });
});

describe('templateSourcesChanged', () => {
  const template: SecretTemplate = { templateFrom: [{ configMap: { name: 'a' } }] };

  it('compares the watch cache with the versions last rendered', () => {
    expect(templateSourcesChanged(template, 'ns', configMaps({}, { a: '10' }), 'a=10')).toBe(false);
    expect(templateSourcesChanged(template, 'ns', configMaps({}, { a: '11' }), 'a=10')).toBe(true);
    expect(templateSourcesChanged(template, 'ns', configMaps({}, {}), 'a=10')).toBe(true);
    expect(templateSourcesChanged(template, 'ns', configMaps({}, {}), undefined)).toBe(false);
    expect(templateSourcesChanged({ data: {} }, 'ns', configMaps({}, {}), 'a=1')).toBe(false);
  });
});

describe('mergeRendered and referencedConfigMaps', () => {
  it('Replace keeps the rendered keys only; Merge adds them over the keys read', () => {
    const read = { a: 'read-a', b: 'read-b' };
    const rendered = { b: 'rendered-b', c: 'rendered-c' };
    expect(mergeRendered({}, read, rendered)).toEqual(rendered);
    expect(mergeRendered({ mergePolicy: 'Replace' }, read, rendered)).toEqual(rendered);
    expect(mergeRendered({ mergePolicy: 'Merge' }, read, rendered)).toEqual({
      a: 'read-a',
      b: 'rendered-b',
      c: 'rendered-c',
    });
  });

  it('finds templateFrom ConfigMaps in a raw resource, however malformed', () => {
    const obj = (spec: unknown) => ({ metadata: { name: 'x' }, spec });
    expect(
      referencedConfigMaps(
        obj({ target: { template: { templateFrom: [{ configMap: { name: 'a' } }, {}, null] } } }),
      ),
    ).toEqual(['a']);
    expect(referencedConfigMaps(obj({ target: { template: { templateFrom: 'x' } } }))).toEqual([]);
    expect(referencedConfigMaps(obj(undefined))).toEqual([]);
  });
});
