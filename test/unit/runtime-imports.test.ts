// client-node costs about 75 MiB of RSS once imported (every model and API group loads with
// KubeConfig alone), more than half of an idle operator. The operator's runtime therefore uses it
// for types only, and imports it for real in one place: kube-fallback.ts, loaded on demand for
// kubeconfigs with exec plugins, auth providers or proxies. Likewise undici's index (all of
// undici, 26 MiB) is never loaded: src/runtime/undici.ts loads the pool and the request API
// alone; a pod, configured by its service account, never loads the YAML parser (12 MiB), which
// only kubeconfig files need; and cron-parser (with luxon, 5 MiB) waits for the first
// refreshSchedule. These tests keep it that way.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { importGraph } from './support/import-graph.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const FALLBACK = 'src/runtime/kube-fallback.ts';
const CLIENT_NODE = /['"]@kubernetes\/client-node['"]/;

/** Every src/ file the operator's entry point can reach through any import. */
function reachableFromMain(): string[] {
  const { edges } = importGraph(root, 'src');
  const seen = new Set<string>(['src/main.ts']);
  const queue = ['src/main.ts'];
  for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
    for (const next of edges.get(file) ?? []) {
      if (!seen.has(next)) {
        seen.add(next);
        queue.push(next);
      }
    }
  }
  return [...seen].sort();
}

/** The import/export statements (and dynamic imports) of a source that name `pattern`. */
function statementsNaming(source: string, pattern: RegExp): string[] {
  const statements =
    source.match(
      /^\s*(?:import|export)\b[^;]*?from\s*['"][^'"]+['"]|import\(\s*['"][^'"]+['"]\s*\)/gms,
    ) ?? [];
  return statements.filter((s) => pattern.test(s)).map((s) => s.trim().replace(/\s+/g, ' '));
}

describe('what the operator loads of client-node', () => {
  const files = reachableFromMain();

  it('reaches the runtime, the controllers and the fallback module from src/main.ts', () => {
    // The walk must see the files this rule is about, or it would pass vacuously.
    expect(files).toEqual(
      expect.arrayContaining([
        'src/runtime/kube.ts',
        'src/runtime/kubeclient.ts',
        'src/runtime/listwatch.ts',
        'src/controllers/shared/secrets.ts',
        FALLBACK,
      ]),
    );
  });

  it('imports only types from @kubernetes/client-node, except the lazy fallback', () => {
    const runtimeImports = files.flatMap((file) => {
      const source = readFileSync(join(root, file), 'utf8');
      return statementsNaming(source, CLIENT_NODE)
        .filter((s) => !s.startsWith('import type '))
        .filter((s) => !(file === FALLBACK && s.startsWith("import('@kubernetes/client-node')")))
        .map((s) => `${file}: ${s}`);
    });
    expect(runtimeImports).toEqual([]);
  });

  it('loads the fallback module only on demand (a dynamic import)', () => {
    const staticImports = files.flatMap((file) => {
      const source = readFileSync(join(root, file), 'utf8');
      return statementsNaming(source, /kube-fallback/)
        .filter((s) => !s.startsWith('import type ') && !s.startsWith('import('))
        .map((s) => `${file}: ${s}`);
    });
    expect(staticImports).toEqual([]);
  });
});

/**
 * Runs a Node process (as `npm start` runs the operator: TypeScript through type stripping) that
 * loads the operator's modules, builds its Manager and controllers, makes a request, and reports
 * which of the packages above were ever resolved. Configured by a kubeconfig file, or, as in a
 * pod, by a service account directory (`inCluster`).
 */
function probe(source: { kubeconfig: string } | { inCluster: string }): Probe {
  const script = `
    import { registerHooks } from 'node:module';
    let clientNode = false;
    let undiciIndex = false;
    let yaml = false;
    let cronParser = false;
    registerHooks({
      resolve(specifier, context, next) {
        if (specifier.startsWith('@kubernetes/client-node')) clientNode = true;
        const resolved = next(specifier, context);
        if (resolved.url.endsWith('/node_modules/undici/index.js')) undiciIndex = true;
        if (resolved.url.includes('/node_modules/yaml/')) yaml = true;
        if (resolved.url.includes('/node_modules/cron-parser/')) cronParser = true;
        return resolved;
      },
    });
    const { parseConfig } = await import(${JSON.stringify(join(root, 'src/config/config.ts'))});
    const { registerControllers } = await import(${JSON.stringify(join(root, 'src/controllers/index.ts'))});
    const { loadKubeConfig } = await import(${JSON.stringify(join(root, 'src/runtime/kube.ts'))});
    const { createLogger } = await import(${JSON.stringify(join(root, 'src/runtime/logger.ts'))});
    const { Manager } = await import(${JSON.stringify(join(root, 'src/runtime/manager.ts'))});
    await import(${JSON.stringify(join(root, 'src/main.ts'))});
    const [kubeconfig, serviceAccountDir] = JSON.parse(process.argv[1]);
    const config = parseConfig(kubeconfig ? ['--kubeconfig', kubeconfig] : [], {});
    // In a pod: the service's address (nothing listens on 127.0.0.1:8001, a plain HTTP port as
    // kubectl proxy's) and the service account's files.
    const env = serviceAccountDir
      ? { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '8001' }
      : {};
    const kube = loadKubeConfig(config.kubeconfig, env, { serviceAccountDir: serviceAccountDir ?? undefined });
    const manager = new Manager({ config, kubeConfig: kube, log: createLogger({ level: 'fatal' }) });
    registerControllers(manager);
    const error = await kube.core
      .readNamespacedSecret({ name: 'x', namespace: 'y' })
      .then(() => '', (e) => e.code ?? e.name);
    process.stdout.write(JSON.stringify({ clientNode, undiciIndex, yaml, cronParser, error }));
    process.exit(0);
  `;
  const args = JSON.stringify(
    'kubeconfig' in source ? [source.kubeconfig, null] : [null, source.inCluster],
  );
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, args], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return JSON.parse(out) as Probe;
}

interface Probe {
  clientNode: boolean;
  undiciIndex: boolean;
  yaml: boolean;
  cronParser: boolean;
  error: string;
}

describe('the operator process', () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'runtime-imports-'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  function kubeconfig(name: string, user: Record<string, unknown>): string {
    const path = join(dir, name);
    writeFileSync(
      path,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        // Nothing listens there: the request fails to connect, after the credentials were built.
        clusters: [
          {
            name: 'c',
            cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true },
          },
        ],
        users: [{ name: 'u', user }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    return path;
  }

  it("never loads client-node or undici's index for a token or certificate kubeconfig", () => {
    const result = probe({ kubeconfig: kubeconfig('token', { token: 'not-a-real-token' }) });
    expect(result).toEqual({
      clientNode: false,
      undiciIndex: false,
      yaml: true,
      cronParser: false,
      error: 'ECONNREFUSED',
    });
  }, 90_000);

  it('never loads the YAML parser in a pod (service account, no kubeconfig file)', () => {
    const account = join(dir, 'serviceaccount');
    mkdirSync(account);
    writeFileSync(join(account, 'token'), 'not-a-real-token');
    writeFileSync(join(account, 'ca.crt'), 'unused over plain HTTP');
    writeFileSync(join(account, 'namespace'), 'operators');
    const result = probe({ inCluster: account });
    expect(result).toEqual({
      clientNode: false,
      undiciIndex: false,
      yaml: false,
      cronParser: false,
      error: 'ECONNREFUSED',
    });
  }, 90_000);

  it('loads it for an exec credential plugin, and only then', () => {
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: process.execPath,
      args: [
        '-e',
        'process.stdout.write(JSON.stringify({apiVersion:"client.authentication.k8s.io/v1",kind:"ExecCredential",status:{token:"t"}}))',
      ],
      interactiveMode: 'Never',
    };
    const result = probe({ kubeconfig: kubeconfig('exec', { exec }) });
    expect(result).toMatchObject({ clientNode: true, error: 'ECONNREFUSED' });
  }, 90_000);
});
