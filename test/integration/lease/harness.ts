// What the IAMCredentialLease integration tests share: a namespace, an emulator with short
// credential TTLs behind a SecretStore, the in-process operator (restartable), and readers for
// leases, their Secrets and Events.
import { randomBytes } from 'node:crypto';
import { AppsV1Api, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { API_VERSION, GROUP, PLURALS, VERSION } from '../../../src/api/group.ts';
import type { IAMCredentialLeaseStatus } from '../../../src/api/index.ts';
import type { LeaseControllerOptions } from '../../../src/controllers/lease/register.ts';
import type { EmulatorOptions } from '../../../src/emulator/index.ts';
import { isApiError } from '../../../src/runtime/kube.ts';
import { createNamespace, eventually, kubeConfig } from '../support/cluster.ts';
import { startTestEmulator, type TestEmulator } from '../support/emulator.ts';
import { type RunningOperator, startOperator } from '../support/operator.ts';

export const kc = kubeConfig();
export const core = kc.makeApiClient(CoreV1Api);
export const custom = kc.makeApiClient(CustomObjectsApi);
export const apps = kc.makeApiClient(AppsV1Api);

const base = { group: GROUP, version: VERSION, plural: PLURALS.IAMCredentialLease };

export interface LeaseObject {
  metadata: {
    name: string;
    uid: string;
    generation: number;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: IAMCredentialLeaseStatus;
}

export interface LeaseEnvOptions {
  prefix: string;
  emulator?: Omit<EmulatorOptions, 'apiKeys' | 'seed'>;
  /** `spec.secretsManager` extras of the store, e.g. `{ revocation: 'secretVersionData' }`. */
  secretsManagerSpec?: Record<string, unknown>;
  lease?: LeaseControllerOptions;
}

export class LeaseEnv {
  readonly namespace: string;
  readonly sm: TestEmulator;
  readonly #options: LeaseEnvOptions;
  operator: RunningOperator | undefined;

  private constructor(namespace: string, sm: TestEmulator, options: LeaseEnvOptions) {
    this.namespace = namespace;
    this.sm = sm;
    this.#options = options;
  }

  static async create(options: LeaseEnvOptions): Promise<LeaseEnv> {
    const namespace = await createNamespace(options.prefix);
    const sm = await startTestEmulator({
      namespace,
      seed: {},
      minCredentialTtlSeconds: 1,
      ...options.emulator,
      ...(options.secretsManagerSpec ? { secretsManagerSpec: options.secretsManagerSpec } : {}),
    });
    const env = new LeaseEnv(namespace, sm, options);
    await env.start();
    await sm.waitReady();
    return env;
  }

  get em() {
    return this.sm.emulator;
  }

  core() {
    return core;
  }

  async start(lease: LeaseControllerOptions = this.#options.lease ?? {}): Promise<RunningOperator> {
    this.operator = await startOperator({
      namespaces: [this.namespace],
      logLevel: 'info',
      extraArgs: ['--shutdown-timeout', '2s'],
      deps: { storeRecheckMs: 2_000, lease },
    });
    return this.operator;
  }

  async stopOperator(): Promise<void> {
    await this.operator?.stop();
    this.operator = undefined;
  }

  async close(): Promise<void> {
    await this.stopOperator();
    await this.sm.stop();
  }

  /** An iam_credentials secret in the emulator; returns its name. */
  credentialSecret(ttlSeconds: number, options: { reuse?: boolean; name?: string } = {}): string {
    const name = options.name ?? `cred-${randomBytes(3).toString('hex')}`;
    this.em.createSecret({
      type: 'iam_credentials',
      name,
      access_groups: ['AccessGroupId-0529f490-129c-4877-a2a0-b57f50d3e53b'],
      ttl: ttlSeconds,
      reuse_api_key: options.reuse ?? false,
    });
    return name;
  }

  async createLease(name: string, spec: Record<string, unknown>): Promise<void> {
    await custom.createNamespacedCustomObject({
      ...base,
      namespace: this.namespace,
      body: {
        apiVersion: API_VERSION,
        kind: 'IAMCredentialLease',
        metadata: { name, namespace: this.namespace },
        spec: { storeRef: this.sm.storeRef, ...spec },
      },
    });
  }

  async patchLease(name: string, spec: Record<string, unknown>): Promise<void> {
    const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
    await custom.patchNamespacedCustomObject(
      { ...base, namespace: this.namespace, name, body: { spec } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
  }

  async deleteLease(name: string): Promise<void> {
    await custom.deleteNamespacedCustomObject({ ...base, namespace: this.namespace, name });
  }

  async getLease(name: string): Promise<LeaseObject | undefined> {
    try {
      return (await custom.getNamespacedCustomObject({
        ...base,
        namespace: this.namespace,
        name,
      })) as LeaseObject;
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  /** Waits until `check` holds for the lease's status, and returns the lease. */
  async waitLease(
    name: string,
    what: string,
    check: (lease: LeaseObject) => boolean,
    timeoutMs = 60_000,
  ): Promise<LeaseObject> {
    return eventually(
      `${name}: ${what}`,
      async () => {
        const lease = await this.getLease(name);
        return lease && check(lease) ? lease : undefined;
      },
      timeoutMs,
      200,
    );
  }

  /** Waits for a Ready lease with a credential and returns it. */
  leased(name: string, timeoutMs?: number): Promise<LeaseObject> {
    return this.waitLease(
      name,
      'Ready with a credential',
      (l) => ready(l) === 'True' && l.status?.current !== undefined,
      timeoutMs,
    );
  }

  /** The Secret's data, decoded; undefined when it does not exist. */
  async secretData(name: string): Promise<Record<string, string> | undefined> {
    try {
      const secret = await core.readNamespacedSecret({ name, namespace: this.namespace });
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
      );
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }

  /** The API key in the lease's Secret (waits for the Secret). */
  async apiKey(secret: string, key = 'apikey'): Promise<string> {
    return eventually(
      `Secret ${secret} with ${key}`,
      async () => (await this.secretData(secret))?.[key],
    );
  }

  /** Events about an object: `reason: message` lines. */
  async events(
    objectName: string,
  ): Promise<Array<{ type: string; reason: string; message: string }>> {
    await this.operator?.context.events.flush();
    const list = await core.listNamespacedEvent({
      namespace: this.namespace,
      fieldSelector: `involvedObject.name=${objectName}`,
    });
    return list.items.map((e) => ({
      type: e.type ?? '',
      reason: e.reason ?? '',
      message: e.message ?? '',
    }));
  }

  /** A Deployment (no pods run here: there is no scheduler) to watch rollout restarts on. */
  async deployment(name: string, secret: string): Promise<void> {
    await apps.createNamespacedDeployment({
      namespace: this.namespace,
      body: {
        metadata: { name },
        spec: {
          selector: { matchLabels: { app: name } },
          template: {
            metadata: { labels: { app: name } },
            spec: {
              containers: [
                {
                  name: 'app',
                  image: 'busybox',
                  envFrom: [{ secretRef: { name: secret } }],
                },
              ],
            },
          },
        },
      },
    });
  }

  async restartedAt(deployment: string): Promise<string | undefined> {
    const d = await apps.readNamespacedDeployment({ name: deployment, namespace: this.namespace });
    return d.spec?.template.metadata?.annotations?.['secrets-manager.dev/restartedAt'];
  }

  /** A metric's value from the operator's /metrics (sum over label sets matching `labels`). */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = (await this.operator?.metrics()) ?? '';
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const match = /^([a-z_]+)(\{[^}]*\})?\s+(\S+)$/.exec(line);
      if (!match || match[1] !== name) continue;
      const set = match[2] ?? '';
      if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) {
        sum += Number(match[3]);
      }
    }
    return sum;
  }
}

export function ready(lease: LeaseObject | undefined): string | undefined {
  return lease?.status?.conditions?.find((c) => c.type === 'Ready')?.status;
}

export function readyReason(lease: LeaseObject | undefined): string | undefined {
  return lease?.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
