import { createPrivateKey, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { issueX509 } from '../emulator/x509.ts';
import { compileTemplate, FUNCTION_NAMES, formatProblem, renderTemplate } from './index.ts';

function text(source: string, data: Record<string, string | Uint8Array> = {}): string {
  const compiled = compileTemplate(source);
  if (!compiled.ok) throw new Error(formatProblem(compiled.problem));
  const result = renderTemplate(compiled.template, data);
  if (!result.ok) throw new Error(formatProblem(result.problem));
  return typeof result.value === 'string' ? result.value : Buffer.from(result.value).toString();
}

function fails(source: string, data: Record<string, string> = {}): string {
  const compiled = compileTemplate(source);
  if (!compiled.ok) return compiled.problem.message;
  const result = renderTemplate(compiled.template, data);
  if (result.ok) throw new Error('rendered');
  return result.problem.message;
}

/** root CA -> intermediate CA -> leaf, as PEM. */
function chain() {
  const now = Date.now();
  const span = { notBefore: now - 60_000, notAfter: now + 86_400_000 };
  const root = issueX509({ commonName: 'Test Root', altNames: [], ca: true, ...span });
  const inter = issueX509({
    commonName: 'Test Intermediate',
    altNames: [],
    ca: true,
    issuer: { commonName: 'Test Root', key: createPrivateKey(root.privateKeyPem) },
    ...span,
  });
  const leaf = issueX509({
    commonName: 'app.example.com',
    altNames: ['app.example.com'],
    issuer: { commonName: 'Test Intermediate', key: createPrivateKey(inter.privateKeyPem) },
    ...span,
  });
  return { root, inter, leaf };
}

const subjects = (bundle: string) =>
  (bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []).map(
    (pem) => new X509Certificate(pem).subject,
  );

describe('template functions', () => {
  it('has exactly the documented functions', () => {
    expect([...FUNCTION_NAMES].sort()).toEqual(
      [
        'and',
        'b64dec',
        'b64enc',
        'default',
        'dockerConfigJson',
        'eq',
        'filterPEM',
        'fromJson',
        'index',
        'join',
        'len',
        'lower',
        'ne',
        'not',
        'or',
        'pemChain',
        'pemFullChain',
        'pemLeaf',
        'pemPrivateKey',
        'quote',
        'replace',
        'toJson',
        'trim',
        'trimPrefix',
        'trimSuffix',
        'upper',
        'urlquery',
      ].sort(),
    );
  });

  it('b64enc / b64dec', () => {
    expect(text('{{ .a | b64enc }}', { a: 'héllo' })).toBe('aMOpbGxv');
    expect(text('{{ b64dec "aMOpbGxv" }}')).toBe('héllo');
    expect(text('{{ b64dec "aMOpbGxv\\n" }}')).toBe('héllo');
    expect(text('{{ b64dec "YQ" }}')).toBe('a');
    expect(fails('{{ b64dec "a-b_" }}')).toBe('b64dec: its argument is not valid base64');
  });

  it('toJson / fromJson with field access on the result', () => {
    expect(text('{{ .a | toJson }}', { a: 'x"y' })).toBe('"x\\"y"');
    expect(text('{{ (fromJson .j).a.b }}', { j: '{"a":{"b":[1,"two"]}}' })).toBe('[1,"two"]');
    expect(text('{{ fromJson .j | toJson }}', { j: '{"b":1,"a":[true,null]}' })).toBe(
      '{"b":1,"a":[true,null]}',
    );
    expect(text('{{ index (fromJson .j) "a" 1 }}', { j: '{"a":[1,"two"]}' })).toBe('two');
    expect(fails('{{ fromJson "{nope" }}')).toBe('fromJson: its argument is not valid JSON');
  });

  it('upper, lower, trim, trimPrefix, trimSuffix, replace', () => {
    expect(text('{{ upper "aB" }}{{ lower "aB" }}[{{ trim "  x \\n" }}]')).toBe('ABab[x]');
    expect(text('{{ .u | trimPrefix "https://" | trimSuffix "/" }}', { u: 'https://h/' })).toBe(
      'h',
    );
    expect(text('{{ replace "-" "_" "a-b-c" }}')).toBe('a_b_c');
    expect(text('{{ replace "-" "$&" "a-b" }}')).toBe('a$&b');
  });

  it('default, quote, len, join', () => {
    expect(text('{{ .a | default "d" }}|{{ .b | default "d" }}', { b: 'set' })).toBe('d|set');
    expect(text('{{ default "d" "" }}')).toBe('d');
    expect(text('{{ quote "a\\"b" }}')).toBe('"a\\"b"');
    expect(text('{{ len .a }} {{ len (fromJson "[1,2]") }}', { a: 'abc' })).toBe('3 2');
    expect(text('{{ join "," (fromJson .l) }}', { l: '["a","b",3]' })).toBe('a,b,3');
    expect(fails('{{ quote .nope }}')).toBe('quote: its argument .nope has no value');
    expect(fails('{{ upper }}')).toBe('upper takes 1 argument, got 0');
    expect(fails('{{ upper (fromJson "{}") }}')).toBe('upper needs text, got a map (use toJson)');
  });

  it('urlquery escapes everything a URL part could misread', () => {
    expect(text('{{ urlquery "p@ss:w/rd?#&= +%é" }}')).toBe(
      'p%40ss%3Aw%2Frd%3F%23%26%3D%20%2B%25%C3%A9',
    );
    expect(text('{{ urlquery "a-b_c.d~e!\'()*" }}')).toBe('a-b_c.d~e%21%27%28%29%2A');
    const dsn =
      'postgres://{{ .db.username | urlquery }}:{{ .db.password | urlquery }}@db:5432/app';
    expect(text(dsn, { db: '{"username":"app user","password":"p@ss/w:rd"}' })).toBe(
      'postgres://app%20user:p%40ss%2Fw%3Ard@db:5432/app',
    );
  });

  it('eq, ne, not, and, or', () => {
    expect(text('{{ eq .a "x" }} {{ ne .a "x" }} {{ not .a }}', { a: 'x' })).toBe(
      'true false false',
    );
    expect(text('{{ and .a .b }}|{{ or .c .b }}', { a: 'A', b: 'B', c: '' })).toBe('B|B');
    expect(text('{{ eq (fromJson "[1]") (fromJson "[1]") }}')).toBe('true');
  });

  it('PEM: leaf, chain, private key, full chain, filterPEM', () => {
    const { root, inter, leaf } = chain();
    const bundle = `${inter.certificatePem}${leaf.certificatePem}${root.certificatePem}`;
    const data = {
      bundle,
      cert: leaf.certificatePem,
      inter: inter.certificatePem,
      ca: `${inter.certificatePem}${root.certificatePem}`,
      key: `${leaf.certificatePem}${leaf.privateKeyPem}`,
    };
    expect(subjects(text('{{ pemLeaf .bundle }}', data))).toEqual(['CN=app.example.com']);
    expect(subjects(text('{{ pemChain .bundle }}', data))).toEqual([
      'CN=Test Intermediate',
      'CN=Test Root',
    ]);
    expect(text('{{ pemPrivateKey .key }}', data)).toBe(leaf.privateKeyPem);
    expect(subjects(text('{{ pemFullChain .cert .ca }}', data))).toEqual([
      'CN=app.example.com',
      'CN=Test Intermediate',
    ]);
    expect(subjects(text('{{ filterPEM "CERTIFICATE" .key }}', data))).toEqual([
      'CN=app.example.com',
    ]);
    expect(text('{{ pemLeaf "no pem here" }}')).toBe('');
  });

  it('dockerConfigJson builds an image pull secret', () => {
    const out = JSON.parse(
      text('{{ dockerConfigJson "icr.io" "iamapikey" .key }}', { key: 'k:1' }),
    );
    expect(out).toEqual({
      auths: {
        'icr.io': {
          username: 'iamapikey',
          password: 'k:1',
          auth: Buffer.from('iamapikey:k:1').toString('base64'),
        },
      },
    });
  });
});
