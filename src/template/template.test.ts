import { describe, expect, it } from 'vitest';
import {
  compileTemplate,
  DEFAULT_LIMITS,
  formatProblem,
  type Rendered,
  renderTemplate,
  type TemplateLimits,
} from './index.ts';

const SECRET = 's3cr3t-value-that-must-not-leak';

function render(
  source: string,
  data: Record<string, string | Uint8Array> = {},
  limits: TemplateLimits = DEFAULT_LIMITS,
): Rendered {
  const compiled = compileTemplate(source, limits);
  if (!compiled.ok) return compiled;
  return renderTemplate(compiled.template, data, limits);
}

function text(source: string, data: Record<string, string | Uint8Array> = {}): string {
  const result = render(source, data);
  if (!result.ok) throw new Error(formatProblem(result.problem));
  return typeof result.value === 'string' ? result.value : Buffer.from(result.value).toString();
}

function problem(source: string, data: Record<string, string | Uint8Array> = {}): string {
  const result = render(source, data);
  if (result.ok) throw new Error(`rendered ${JSON.stringify(result.value)}`);
  return formatProblem(result.problem);
}

describe('syntax', () => {
  it('renders fields, literals, pipelines and calls with arguments', () => {
    const data = { username: 'app', password: 'pa ss', db: '{"host":"db.local","port":5432}' };
    expect(text('user={{ .username }}', data)).toBe('user=app');
    expect(text('{{ .password | upper }}', data)).toBe('PA SS');
    expect(text('{{ .db.host }}:{{ .db.port }}', data)).toBe('db.local:5432');
    expect(text('{{ "lit" }} {{ `raw\\n` }} {{ 42 }} {{ true }}')).toBe('lit raw\\n 42 true');
    expect(text('{{ "a\\tb\\x41\\u00e9" }}')).toBe('a\tbAé');
    expect(text('{{ default "x" .missing }}', data)).toBe('x');
    expect(text('{{ (fromJson .db).host | upper }}', data)).toBe('DB.LOCAL');
  });

  it('trims around {{- and -}} and skips comments', () => {
    expect(text('a  \n {{- "b" -}} \n  c')).toBe('abc');
    expect(text('a{{/* note */}}b {{- /* trimmed */ -}} c')).toBe('abc');
  });

  it('runs if / else if / else and range over lists and maps', () => {
    const data = { list: '[1,2,3]', map: '{"b":2,"a":1}', flag: 'yes' };
    expect(text('{{ if .flag }}on{{ else }}off{{ end }}', data)).toBe('on');
    expect(text('{{ if .nope }}1{{ else if eq .flag "yes" }}2{{ else }}3{{ end }}', data)).toBe(
      '2',
    );
    expect(text('{{ range fromJson .list }}[{{ . }}]{{ end }}', data)).toBe('[1][2][3]');
    expect(text('{{ range $k, $v := fromJson .map }}{{ $k }}={{ $v }};{{ end }}', data)).toBe(
      'a=1;b=2;',
    );
    expect(text('{{ range $i, $v := fromJson .list }}{{ $.flag }}{{ $i }}{{ end }}', data)).toBe(
      'yes0yes1yes2',
    );
    expect(text('{{ range fromJson "[]" }}x{{ else }}empty{{ end }}')).toBe('empty');
  });

  it('reports parse errors with line and column', () => {
    expect(problem('ok\n  {{ .a ')).toBe('2:3: unclosed action: missing "}}"');
    expect(problem('{{ if .a }}x')).toBe('1:1: {{ if }} without {{ end }}');
    expect(problem('x\n{{ end }}')).toBe(
      '2:1: unexpected {{ end }} without a matching if or range',
    );
    expect(problem('{{ .a | }}')).toBe('1:9: missing value in action');
    expect(problem('{{ "abc }}')).toBe('1:4: unterminated string');
    expect(problem('{{ .a # }}')).toBe('1:7: unexpected character "#" in action');
    expect(problem('{{ with .a }}{{ end }}')).toBe('1:4: {{ with }} is not supported');
    expect(problem('{{ "\\q" }}')).toBe('1:5: unknown escape \\q in string');
    expect(problem('{{ (.a }}')).toBe('1:8: expected ")"');
    expect(problem('a\nb {{/* open')).toBe('2:3: unclosed comment');
  });

  it('reports render errors with the position of the failing part', () => {
    expect(problem('line1\n  {{ .nope }}', {})).toBe('2:6: .nope has no value');
    expect(problem('{{ .a | b64dec }}', { a: '!!' })).toBe(
      '1:9: b64dec: its argument is not valid base64',
    );
    expect(problem('{{ $x }}')).toBe('1:4: undefined variable $x');
    expect(problem('{{ .a .b }}', { a: 'x', b: 'y' })).toBe(
      '1:4: a value cannot take arguments: only functions can',
    );
    expect(problem('{{ .a | .b }}', { a: 'x', b: 'y' })).toBe(
      '1:9: cannot pipe into a value: the command after "|" must be a function',
    );
    expect(problem('{{ range .a }}{{ end }}', { a: 'text' })).toBe(
      '1:1: range needs a list or a map, got a string',
    );
  });
});

describe('the sandbox', () => {
  it('gives nothing for JavaScript properties: constructor, __proto__, prototype', () => {
    for (const path of [
      '.constructor',
      '.__proto__',
      '.prototype',
      '.toString',
      '.hasOwnProperty',
      '.a.constructor',
      '.a.__proto__.constructor',
      '.j.constructor',
      '.j.__proto__',
      '$.constructor',
    ]) {
      const result = render(`{{ ${path} }}`, { a: 'text', j: '{"k":1}' });
      expect(result.ok, path).toBe(false);
      if (!result.ok) expect(result.problem.message).toMatch(/has no value|cannot read field/);
    }
    expect(text('{{ if .constructor }}y{{ else }}n{{ end }}')).toBe('n');
    expect(text('{{ default "none" .__proto__ }}')).toBe('none');
    expect(text('{{ index (fromJson .j) "constructor" | default "none" }}', { j: '{}' })).toBe(
      'none',
    );
  });

  it('reads a key named like a JavaScript property only when the data has it', () => {
    expect(text('{{ (fromJson .j).constructor }}', { j: '{"constructor":"mine"}' })).toBe('mine');
    expect(text('{{ .j.__proto__ }}', { j: '{"__proto__":"own"}' })).toBe('own');
  });

  it('has no function that reaches the process, the environment, files or the network', () => {
    for (const name of [
      'env',
      'expandenv',
      'readFile',
      'require',
      'import',
      'process',
      'eval',
      'Function',
      'constructor',
      'toString',
      'hasOwnProperty',
      '__proto__',
      'exec',
      'fetch',
      'getHostByName',
    ]) {
      expect(problem(`{{ ${name} "x" }}`)).toBe(`1:4: unknown function "${name}"`);
    }
  });

  it('never puts a data value into an error message', () => {
    const data = { pw: SECRET, j: `{"pw":"${SECRET}"}` };
    for (const source of [
      '{{ .pw | fromJson }}',
      '{{ .pw | b64dec }}',
      '{{ .pw.field }}',
      '{{ range .pw }}{{ end }}',
      '{{ index (fromJson .j) .pw }}',
      '{{ .j | fromJson | upper }}',
      '{{ .pw | quote | fromJson | fromJson }}',
    ]) {
      const result = render(source, data);
      expect(result.ok, source).toBe(false);
      if (!result.ok) expect(formatProblem(result.problem)).not.toContain(SECRET);
    }
  });
});

describe('limits', () => {
  it('refuses a template longer than the source bound', () => {
    const huge = `{{ .a }}${'x'.repeat(DEFAULT_LIMITS.maxSourceBytes)}`;
    const compiled = compileTemplate(huge);
    expect(compiled.ok).toBe(false);
    if (!compiled.ok) expect(compiled.problem.message).toMatch(/at most 65536 are allowed/);
  });

  it('stops nested loops at the step bound', () => {
    const list = JSON.stringify(Array.from({ length: 100 }, (_, i) => i));
    const source =
      '{{ range fromJson .l }}{{ range fromJson $.l }}{{ range fromJson $.l }}' +
      '{{ end }}{{ end }}{{ end }}';
    expect(problem(source, { l: list })).toMatch(
      /^1:\d+: the template took more than 100000 steps$/,
    );
    // The same shape, smaller, is fine.
    expect(text(source, { l: '[1,2,3]' })).toBe('');
  });

  it('refuses nesting deeper than the parser allows instead of exhausting the stack', () => {
    const deep = `{{ ${'('.repeat(5000)}.a${')'.repeat(5000)} }}`;
    expect(problem(deep, { a: 'x' })).toMatch(/parentheses nested deeper than 32/);
    const blocks = `${'{{ if .a }}'.repeat(1000)}${'{{ end }}'.repeat(1000)}`;
    expect(problem(blocks, { a: 'x' })).toMatch(/blocks nested deeper than 32/);
  });

  it('bounds the output and every value on the way', () => {
    const limits = { ...DEFAULT_LIMITS, maxOutputBytes: 1000 };
    const big = 'x'.repeat(600);
    const twice = render('{{ .a }}{{ .a }}', { a: big }, limits);
    expect(twice.ok).toBe(false);
    if (!twice.ok) expect(twice.problem.message).toBe('the output is larger than 1000 bytes');
    const grown = render('{{ .a | b64enc | b64enc | len }}', { a: big }, limits);
    expect(grown.ok).toBe(false);
    if (!grown.ok) expect(grown.problem.message).toBe('b64enc made a value larger than 1000 bytes');
    const loop = render(
      '{{ range fromJson .l }}{{ $.a }}{{ end }}',
      { a: 'y'.repeat(100), l: '[1,2,3,4,5,6,7,8,9,10,11]' },
      limits,
    );
    expect(loop.ok).toBe(false);
  });

  it('counts large arguments as more steps', () => {
    const limits = { ...DEFAULT_LIMITS, maxSteps: 200 };
    const result = render('{{ .a | b64enc | len }}', { a: 'z'.repeat(300_000) }, limits);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problem.message).toMatch(/more than 200 steps/);
  });
});

describe('binary values', () => {
  it('writes bytes exactly when the output holds bytes', () => {
    const bytes = new Uint8Array([0, 255, 1, 128]);
    const result = render('{{ .k | b64enc | b64dec }}', { k: bytes });
    expect(result.ok && Buffer.from(result.value as Uint8Array).equals(Buffer.from(bytes))).toBe(
      true,
    );
    expect(text('{{ .k | b64enc }}', { k: bytes })).toBe('AP8BgA==');
  });
});
