// No import cycles in src/: a cycle makes module initialisation order matter (a class used before
// its module has run) and means two folders cannot be understood, or moved, one without the other.
// Type-only imports count too: they tie the files together for a reader just the same.
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  cyclesOf,
  importGraph,
  importSpecifiers,
  stronglyConnected,
} from './support/import-graph.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('import specifiers', () => {
  it('finds static, type-only, side-effect, re-exported and dynamic imports', () => {
    const source = [
      "import { a } from './a.ts';",
      "import type { B } from './b.ts';",
      "import c, { type C } from './c.ts'",
      "import * as d from './d.ts';",
      "import './e.ts';",
      "export { f } from './f.ts';",
      "export type { G } from './g.ts';",
      "export * from './h.ts';",
      "export * as i from './i.ts';",
      "const j = await import('./j.ts');",
      "type K = import('./k.ts').K;",
      'import {',
      '  l,',
      '  type L,',
      "} from './l.ts';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual([
      './a.ts',
      './b.ts',
      './c.ts',
      './d.ts',
      './e.ts',
      './f.ts',
      './g.ts',
      './h.ts',
      './i.ts',
      './j.ts',
      './k.ts',
      './l.ts',
    ]);
  });

  it('ignores imports written in comments, strings, templates and regular expressions', () => {
    const source = [
      "// import { a } from './a.ts';",
      "/* import('./b.ts') */",
      'const s = "import { c } from \'./c.ts\'";',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: the source under test is a template
      "const t = `import('./d.ts') ${x ? `import './e.ts'` : '}'} from './f.ts'`;",
      "const r = /import '\\.\\/g.ts'/;",
      'export { h };',
      "const from = 'i';",
      "import.meta.url; x.import('./j.ts');",
      "import { k } from './k.ts';",
    ].join('\n');
    expect(importSpecifiers(source)).toEqual(['./k.ts']);
  });
});

describe('src/', () => {
  const { edges, unresolved } = importGraph(root, 'src');

  it('has every relative import naming a file', () => {
    expect(unresolved).toEqual([]);
  });

  it('has no import cycles', () => {
    // One line per cycle, so the failure reads as the list of what to untangle.
    const cycles = stronglyConnected(edges).flatMap((component) =>
      cyclesOf(edges, component).map((cycle) => cycle.join(' -> ')),
    );
    expect(cycles).toEqual([]);
  });

  it('keeps fakes and test helpers out of what the operator runs', () => {
    // Test support: a testing/ folder, a testing.ts, a test or a benchmark.
    const support = (file: string) => /(^|\/)testing(\/|\.ts$)|\.(test|bench)\.ts$/.test(file);
    const leaks = [...edges].flatMap(([from, targets]) =>
      support(from) ? [] : targets.filter(support).map((to) => `${from} -> ${to}`),
    );
    expect(leaks).toEqual([]);
  });
});
