// What can be checked of the image without a Docker engine: the stages reference files that
// exist, production dependencies suffice for what the entry point imports, the runtime stage
// needs no shell and runs as non-root without a HEALTHCHECK, and the entry point, assembled the
// way the runtime stage lays it out, starts the operator from the compiled output.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import buildConfig from '../../rolldown.config.ts';
import { OPTIONS } from '../../src/config/config.ts';
import {
  type Copy,
  execForm,
  parseCopy,
  parseDockerfile,
  type Stage,
  stageArgs,
  stageLabels,
  workdir,
} from './support/dockerfile.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = parseDockerfile(readFileSync(join(root, 'Dockerfile'), 'utf8'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  scripts: Record<string, string>;
};
const stages = dockerfile.stages;
const runtime = stages.at(-1) as Stage;

function copies(stage: Stage): Copy[] {
  return stage.instructions.filter((i) => i.keyword === 'COPY').map(parseCopy);
}

function only(stage: Stage, keyword: string) {
  return stage.instructions.filter((i) => i.keyword === keyword);
}

function stageNamed(name: string): Stage {
  const stage = stages.find((s) => s.name === name);
  if (!stage) throw new Error(`no stage ${name}`);
  return stage;
}

describe('Dockerfile', () => {
  it('is multi-stage on Node 24: build and production dependencies apart from the runtime', () => {
    expect(stages.length).toBeGreaterThanOrEqual(3);
    for (const stage of stages.slice(0, -1)) expect(stage.base).toMatch(/^node:24[.-]/);
    expect(runtime.base).toMatch(/nodejs24/);
    // The runtime copies its node_modules from a stage that installed without dev dependencies.
    const modules = copies(runtime).find((c) =>
      c.destination.replace(/\/$/, '').endsWith('node_modules'),
    );
    expect(modules?.from, 'node_modules come from another stage').toBeDefined();
    const deps = stageNamed(modules?.from ?? '');
    const installs = only(deps, 'RUN').map((r) => r.args);
    expect(installs.some((r) => /\bnpm ci\b.*--omit=dev/.test(r))).toBe(true);
  });

  it('copies only files that exist in the build context', () => {
    for (const stage of stages) {
      for (const copy of copies(stage).filter((c) => c.from === undefined)) {
        for (const source of copy.sources) {
          expect(existsSync(join(root, source)), `${stage.name}: COPY ${source}`).toBe(true);
        }
      }
    }
  });

  it('copies from earlier stages the paths those stages produce', () => {
    const names = stages.map((s) => s.name);
    // The build: `npm run build` bundles rolldown.config.ts's input into its output dir.
    expect(pkg.scripts.build).toMatch(/\brolldown -c rolldown\.config\.ts\b/);
    const inputs = Object.values(buildConfig.input as Record<string, string>);
    const inputDirs = new Set(inputs.map((input) => input.split('/')[0] ?? input));
    const outDir = (buildConfig.output as { dir: string }).dir;
    for (const [index, stage] of stages.entries()) {
      for (const copy of copies(stage).filter((c) => c.from !== undefined)) {
        const fromIndex = names.indexOf(copy.from ?? '');
        expect(fromIndex, `COPY --from=${copy.from}`).toBeGreaterThanOrEqual(0);
        expect(fromIndex).toBeLessThan(index);
        const from = stages[fromIndex] as Stage;
        for (const source of copy.sources) {
          const dir = workdir(from);
          if (source === posix.join(dir, 'node_modules')) {
            expect(only(from, 'RUN').some((r) => /\bnpm ci\b/.test(r.args))).toBe(true);
          } else if (source === posix.join(dir, outDir)) {
            // The build stage runs the build, with the config and the sources it bundles.
            expect(only(from, 'RUN').some((r) => /\bnpm run build\b/.test(r.args))).toBe(true);
            expect(copies(from).some((c) => c.sources.includes('rolldown.config.ts'))).toBe(true);
            for (const input of inputDirs) {
              expect(copies(from).some((c) => c.sources.includes(input))).toBe(true);
            }
          } else {
            throw new Error(`COPY --from=${copy.from} ${source}: not a path that stage produces`);
          }
        }
      }
    }
  });

  it('needs no shell at run time: no RUN in the runtime stage, exec-form ENTRYPOINT', () => {
    expect(only(runtime, 'RUN')).toEqual([]);
    const entrypoint = only(runtime, 'ENTRYPOINT').at(-1);
    expect(entrypoint).toBeDefined();
    const argv = entrypoint ? execForm(entrypoint) : undefined;
    expect(argv, 'ENTRYPOINT must be the exec (JSON) form').toBeDefined();
    expect(posix.basename(argv?.[0] ?? '')).toBe('node');
    expect(posix.resolve(workdir(runtime), argv?.at(-1) ?? '')).toBe(
      posix.join(workdir(runtime), 'dist', 'main.js'),
    );
    for (const cmd of only(runtime, 'CMD')) expect(execForm(cmd)).toBeDefined();
  });

  it('runs node with the flags of `npm start` (what the benches measure), none in NODE_OPTIONS', () => {
    const argv = execForm(only(runtime, 'ENTRYPOINT').at(-1)!) ?? [];
    const words = (pkg.scripts.start ?? '').split(/\s+/);
    const startFlags = words.slice(words.indexOf('node') + 1, words.indexOf('src/main.ts'));
    expect(startFlags).toContain('--heap-growing-percent=30');
    // V8's memory-over-speed mode (README, "Memory"): about 20 MiB off a first sync's peak at
    // 10,000 resources and about 40 MiB off what the operator holds afterwards.
    expect(startFlags).toContain('--optimize-for-size');
    // No Maglev (README, "Memory"): about 10 MiB off that peak and off what is held afterwards.
    expect(startFlags).toContain('--no-maglev');
    expect(argv.slice(1, -1)).toEqual(startFlags);
    // V8 refuses --heap-growing-percent in NODE_OPTIONS, and a pod's NODE_OPTIONS would
    // replace the image's: the flags belong on the command line.
    for (const env of only(runtime, 'ENV')) expect(env.args).not.toContain('NODE_OPTIONS');
  });

  it('tunes glibc malloc as `npm start` does, leaving a value set on the pod alone', () => {
    // npm start: `NAME=${NAME:-value} ... exec node ...` (a value in the environment wins); the
    // image: `ENV NAME=value` (a pod's env overrides it). README, "Memory": at most two arenas,
    // and fixed mmap and trim thresholds instead of glibc's dynamic ones.
    const start = pkg.scripts.start ?? '';
    const fromStart = new Map<string, string>();
    for (const word of start.slice(0, start.indexOf(' exec node ')).split(/\s+/)) {
      const m = /^(\w+)=\$\{\1:-([^}]+)\}$/.exec(word);
      expect(m, `npm start: ${word} is not NAME=\${NAME:-default}`).not.toBeNull();
      if (m?.[1] && m[2]) fromStart.set(m[1], m[2]);
    }
    expect([...fromStart.keys()].sort()).toEqual([
      'MALLOC_ARENA_MAX',
      'MALLOC_MMAP_THRESHOLD_',
      'MALLOC_TRIM_THRESHOLD_',
    ]);
    const fromImage = new Map(
      only(runtime, 'ENV')
        .map((env) => /^(MALLOC_\w+)=(\S+)$/.exec(env.args.trim()))
        .filter((m) => m !== null)
        .map((m) => [m[1], m[2]] as const),
    );
    expect(fromImage).toEqual(fromStart);
  });

  it('runs as a non-root user and leaves health to Kubernetes probes', () => {
    const user = only(runtime, 'USER').at(-1)?.args ?? 'root';
    const [uid] = user.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    for (const stage of stages) expect(only(stage, 'HEALTHCHECK')).toEqual([]);
    const exposed = only(runtime, 'EXPOSE').flatMap((e) => e.args.split(/\s+/));
    for (const option of [OPTIONS.metricsBindAddress, OPTIONS.healthProbeBindAddress]) {
      expect(exposed).toContain(option.default.replace(/^.*:/, ''));
    }
  });

  it('labels the image with its version (the package version) and source', () => {
    const labels = stageLabels(runtime);
    expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
    expect(labels['org.opencontainers.image.source']).toMatch(/^https:\/\//);
    expect(stageArgs(runtime).VERSION).toBe(pkg.version);
  });
});

describe('the image entry point, built and laid out as the runtime stage does', () => {
  let app: string;
  let build: { code: number; output: string };

  beforeAll(async () => {
    app = join(mkdtempSync(join(tmpdir(), 'smo-image-')), 'app');
    try {
      // `npm run build`, with the output directory of the image's layout.
      await run(
        process.execPath,
        [
          join(root, 'node_modules/rolldown/bin/cli.mjs'),
          '-c',
          'rolldown.config.ts',
          '--dir',
          join(app, 'dist'),
        ],
        { cwd: root },
      );
      build = { code: 0, output: '' };
    } catch (err) {
      const e = err as { code?: number; stderr?: string };
      build = { code: e.code ?? 1, output: e.stderr ?? String(err) };
    }
    // The runtime stage: dist/ from the build, package.json (ESM), node_modules from deps.
    // Here node_modules is the working tree's, so the import check below is what proves that
    // production dependencies suffice.
    for (const copy of copies(runtime)) {
      const target = resolve(app, copy.destination);
      if (copy.from === undefined && copy.sources.includes('package.json')) {
        symlinkSync(join(root, 'package.json'), join(target, 'package.json'));
      }
    }
    symlinkSync(join(root, 'node_modules'), join(app, 'node_modules'), 'dir');
  }, 180_000);

  afterAll(() => {
    if (app) rmSync(dirname(app), { recursive: true, force: true });
  });

  it('compiles without errors (the build stage fails otherwise)', () => {
    expect(build.output).toBe('');
    expect(build.code).toBe(0);
    expect(existsSync(join(app, 'dist/main.js'))).toBe(true);
    expect(existsSync(join(app, 'package.json'))).toBe(true);
  });

  /** The packages a bundle file loads, and the bundle files it imports, statically or not. */
  function loads(file: string) {
    const code = readFileSync(file, 'utf8');
    const find = (pattern: RegExp) => [...code.matchAll(pattern)].map((m) => m[1] ?? '');
    return {
      static: [
        ...find(/(?:^|[\s;}])(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']/g),
        ...find(/(?:^|[\s;])import\s*["']([^"']+)["']/g),
      ],
      dynamic: find(/\bimport\(\s*["']([^"']+)["']\s*\)/g),
      // CommonJS loads: a bundled package's `require`, and the operator's `createRequire`.
      required: find(
        /(?:\b__require|\brequire|\bload|createRequire\(import\.meta\.url\))\(\s*["']([^"']+)["']\s*\)/g,
      ),
    };
  }

  const packageOf = (specifier: string) => {
    const parts = specifier.split('/');
    return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
  };
  const builtins = new Set(builtinModules);
  const isBuiltin = (s: string) => s.startsWith('node:') || builtins.has(s);

  /**
   * The bundle files reached from dist/main.js through the loads `follow` picks, and the
   * packages those files load that way.
   */
  function walk(follow: (found: ReturnType<typeof loads>) => string[]) {
    const files = new Set<string>();
    const packages = new Set<string>();
    const visit = (file: string) => {
      if (files.has(file)) return;
      files.add(file);
      for (const s of follow(loads(file))) {
        if (s.startsWith('.')) visit(resolve(dirname(file), s));
        else if (!isBuiltin(s)) packages.add(packageOf(s));
      }
    };
    visit(join(app, 'dist/main.js'));
    return { files, packages };
  }

  it('loads nothing outside the production dependencies and Node built-ins', () => {
    const { packages } = walk((found) => [...found.static, ...found.dynamic, ...found.required]);
    // What the bundle leaves to node_modules: undici's parts, the YAML parser and cron-parser
    // (createRequire) and client-node (the fallback's dynamic import). The scan must see them,
    // or it would pass without looking; the bundled packages must not be loaded again.
    expect([...packages].sort()).toEqual([
      '@kubernetes/client-node',
      'cron-parser',
      'undici',
      'yaml',
    ]);
    const missing = [...packages].filter((p) => !(p in pkg.dependencies));
    expect(missing, 'loaded by dist/main.js but not in "dependencies"').toEqual([]);
  });

  it('bundles the operator into one module, client-node left to a dynamic import', () => {
    // What Node loads at start: dist/main.js and what it imports statically, transitively.
    const { files: atStart, packages } = walk((found) => found.static);
    expect(atStart.size).toBeLessThanOrEqual(3);
    expect([...packages]).toEqual([]);
    const fallback = [...atStart].flatMap((file) => loads(file).dynamic);
    expect(fallback).toEqual(['./kube-fallback.js']);
    expect(loads(join(app, 'dist/kube-fallback.js')).dynamic).toContain('@kubernetes/client-node');
  });

  it('starts the operator: --help prints the usage and exits 0', async () => {
    const argv = execForm(only(runtime, 'ENTRYPOINT').at(-1)!) ?? [];
    const { stdout } = await run(process.execPath, argv.slice(1).concat('--help'), { cwd: app });
    expect(stdout).toContain('Usage: secrets-manager-operator');
    expect(stdout).toContain('--health-probe-bind-address');
  });

  it('rejects a bad flag with exit code 2 and one line naming it', async () => {
    const argv = execForm(only(runtime, 'ENTRYPOINT').at(-1)!) ?? [];
    const result = await run(process.execPath, argv.slice(1).concat('--no-such-flag'), {
      cwd: app,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code?: number; stderr?: string }) => ({ code: err.code, stderr: err.stderr ?? '' }),
    );
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain('unknown argument "--no-such-flag"');
  });
});
