// Running helm and kubectl, and reading what the chart renders. Shared by the chart tests here
// and the node suite (test/node), so nothing in it depends on the integration project's global setup.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CHART_DIR = join(REPO_ROOT, 'deploy/helm');
export const EXAMPLES_DIR = join(REPO_ROOT, 'examples');

/** The Kubernetes version of the local control plane (test/controlplane/versions.env). */
export const KUBE_VERSION = (() => {
  const env = readFileSync(join(REPO_ROOT, 'test/controlplane/versions.env'), 'utf8');
  const version = /^KUBERNETES_VERSION=v?(\S+)$/m.exec(env)?.[1];
  if (!version) throw new Error('versions.env has no KUBERNETES_VERSION');
  return version;
})();

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; a non-zero exit is a result, not an exception. */
export function runCommand(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      {
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A Kubernetes object as read from YAML. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: unknown;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as Manifest | null)
    .filter((obj): obj is Manifest => obj !== null && typeof obj === 'object' && 'kind' in obj);
}

/** helm and kubectl bound to one kubeconfig. */
export class ClusterTools {
  readonly helmPath: string;
  readonly kubectlPath: string;
  readonly kubeconfig: string;

  constructor(options: { helm: string; kubectl: string; kubeconfig: string }) {
    this.helmPath = options.helm;
    this.kubectlPath = options.kubectl;
    this.kubeconfig = options.kubeconfig;
  }

  /** Runs helm; throws with its stderr when it fails. */
  async helm(args: readonly string[]): Promise<string> {
    return check('helm', args, await this.helmResult(args));
  }

  helmResult(args: readonly string[]): Promise<CommandResult> {
    return runCommand(this.helmPath, [...args, '--kubeconfig', this.kubeconfig]);
  }

  /** Runs kubectl; throws with its stderr when it fails. */
  async kubectl(args: readonly string[]): Promise<string> {
    return check('kubectl', args, await this.kubectlResult(args));
  }

  kubectlResult(args: readonly string[]): Promise<CommandResult> {
    return runCommand(this.kubectlPath, [...args, '--kubeconfig', this.kubeconfig]);
  }

  /** `kubectl auth can-i` as a subject: true for "yes", false for "no", throws otherwise. */
  async canI(subject: string, args: readonly string[]): Promise<boolean> {
    const result = await this.kubectlResult(['auth', 'can-i', ...args, `--as=${subject}`]);
    const answer = result.stdout.trim();
    if (answer === 'yes') return true;
    if (answer.startsWith('no')) return false;
    throw new Error(`kubectl auth can-i ${args.join(' ')}: ${result.stderr || answer}`);
  }
}

function check(tool: string, args: readonly string[], result: CommandResult): string {
  if (result.code !== 0) {
    throw new Error(`${tool} ${args.join(' ')} exited ${result.code}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Writes values to a temporary file for `helm -f` (JSON is YAML) and returns a disposer. */
export function valuesFile(values: object): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'smo-values-'));
  const path = join(dir, 'values.yaml');
  writeFileSync(path, JSON.stringify(values, null, 2));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** `helm template` of the chart with these values; rendered objects when it succeeds. */
export async function renderChart(
  helmPath: string,
  values: object,
  options: { release?: string; namespace?: string; args?: string[] } = {},
): Promise<CommandResult & { objects: Manifest[] }> {
  const file = valuesFile(values);
  try {
    const result = await runCommand(helmPath, [
      'template',
      options.release ?? 'smo',
      CHART_DIR,
      '--namespace',
      options.namespace ?? 'smo-system',
      '--kube-version',
      KUBE_VERSION,
      '-f',
      file.path,
      ...(options.args ?? []),
    ]);
    return { ...result, objects: result.code === 0 ? parseManifests(result.stdout) : [] };
  } finally {
    file.remove();
  }
}

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
}

/** The rules of a Role or ClusterRole manifest. */
export function rulesOf(obj: Manifest): PolicyRule[] {
  return (obj.rules as PolicyRule[] | undefined) ?? [];
}
