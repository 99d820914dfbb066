// The SecretStore / ClusterSecretStore controller: proves each store works with a real IAM
// token exchange and Vault login, reports Ready with a reason that tells the failures apart, and
// hands the validated client to the StoreRegistry for the resource controllers.
import { isDeepStrictEqual } from 'node:util';
import {
  type ClusterSecretStore,
  type Condition,
  pollIntervalMs,
  READY,
  type SecretStore,
  STORE_REASONS,
  setCondition,
  toRfc3339,
} from '../../api/index.ts';
import type { Clock } from '../../runtime/clock.ts';
import { describeError } from '../../runtime/errors.ts';
import type { KubeObject } from '../../runtime/informer.ts';
import type { ObjectKey } from '../../runtime/logger.ts';
import type { ReconcileContext, Reconciler, Result } from '../../runtime/reconciler.ts';
import {
  CR_TOKEN_OPERATION,
  isSecretsManagerError,
  type SecretsManagerClient,
  type SecretsManagerClientPool,
  type StoreConnection,
  secretsManagerUrl,
} from '../../secretsmanager/index.ts';
import type { CustomResources } from '../shared/resources.ts';
import { readSecret, type SecretsApi } from '../shared/secrets.ts';
import { type EventSink, StatusWriter } from '../shared/status.ts';
import { describeStore, type StoreKey, storeId, storeKeyOfObjectKey } from './key.ts';
import type { StoreRegistry } from './registry.ts';
import { type TokenRequestApi, trustedProfileCredential } from './trusted-profile.ts';

/** How often a Ready store is checked again: re-read its key Secret, confirm the login. */
export const DEFAULT_STORE_RECHECK_MS = 60_000;
/** How often `lastValidatedTime` moves forward while nothing else changes. */
const VALIDATED_TIME_EVERY_MS = 10 * 60_000;

export interface StoreReconcilerOptions {
  registry: StoreRegistry;
  pool: SecretsManagerClientPool;
  core: SecretsApi;
  /** TokenRequests for trusted-profile stores that name a service account. */
  tokens?: TokenRequestApi;
  resources: Pick<CustomResources, 'patchStatus' | 'replaceStatus'>;
  events: EventSink;
  clock: Clock;
  /** Recheck jitter source (default Math.random). */
  random?: () => number;
  /**
   * Whether this process writes store status now (default always). Sharded, only the holder of
   * the store-status Lease does; every shard still validates stores for its own resources.
   */
  writesStatus?: () => boolean;
  recheckMs?: number;
}

type Outcome =
  | { ok: true; client: SecretsManagerClient; url: string; identity: string }
  | { ok: false; reason: string; message: string; retry: 'backoff' | 'later' | 'never' };

export class StoreReconciler implements Reconciler {
  readonly name = 'store';
  readonly #o: StoreReconcilerOptions;
  readonly #recheckMs: number;
  /** The client each store used at its last validation, to notice a replaced one. */
  readonly #clients = new Map<string, SecretsManagerClient>();
  readonly #random: () => number;
  readonly #status: { SecretStore: StatusWriter; ClusterSecretStore: StatusWriter };

  constructor(options: StoreReconcilerOptions) {
    this.#o = options;
    this.#recheckMs = options.recheckMs ?? DEFAULT_STORE_RECHECK_MS;
    this.#random = options.random ?? Math.random;
    const writer = (kind: 'SecretStore' | 'ClusterSecretStore') =>
      new StatusWriter({
        kind,
        resources: options.resources,
        events: options.events,
        clock: options.clock,
        mode: 'merge',
      });
    this.#status = {
      SecretStore: writer('SecretStore'),
      ClusterSecretStore: writer('ClusterSecretStore'),
    };
  }

  /** Whether a watch event of a store is the echo of our own status write. */
  isOwnEcho(obj: KubeObject): boolean {
    const writer = obj.metadata.namespace
      ? this.#status.SecretStore
      : this.#status.ClusterSecretStore;
    return writer.isOwnEcho(obj);
  }

  async reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<Result | undefined> {
    const { registry, pool } = this.#o;
    const storeKey = storeKeyOfObjectKey(key);
    const id = storeId(storeKey);
    const cached = registry.getObject(storeKey);
    if (!cached) {
      this.#status[storeKey.kind].forget({ metadata: key });
      registry.forget(storeKey);
      this.#clients.delete(id);
      await pool.evict(id);
      ctx.log.debug('store is gone; client dropped');
      return undefined;
    }
    const obj = this.#status[storeKey.kind].view(cached);
    const uid = obj.metadata.uid ?? '';
    const generation = obj.metadata.generation ?? 0;
    const parsed = registry.parse(storeKey, obj);
    if (!parsed.ok) {
      registry.setState(storeKey, {
        ready: false,
        uid,
        generation,
        reason: STORE_REASONS.InvalidSpec,
        message: parsed.message,
      });
      await this.#report(
        storeKey,
        obj,
        {
          ok: false,
          reason: STORE_REASONS.InvalidSpec,
          message: parsed.message,
          retry: 'never',
        },
        ctx.signal,
      );
      return undefined;
    }
    const store = parsed.value;
    const outcome = await this.#validate(storeKey, store, ctx);
    if (outcome.ok) {
      registry.setState(storeKey, {
        ready: true,
        uid,
        generation,
        client: outcome.client,
        info: {
          ...storeKey,
          uid,
          generation,
          url: outcome.url,
          revocation: store.spec.secretsManager.revocation,
          pollIntervalMs: pollIntervalMs(store.spec),
        },
      });
    } else {
      registry.setState(storeKey, {
        ready: false,
        uid,
        generation,
        reason: outcome.reason,
        message: outcome.message,
      });
    }
    await this.#report(storeKey, obj, outcome, ctx.signal);
    if (!outcome.ok && outcome.retry === 'backoff') {
      // Status is written; throwing retries with the queue's per-key backoff.
      throw Object.assign(new Error(`${describeStore(storeKey)}: ${outcome.message}`), {
        code: outcome.reason,
      });
    }
    if (!outcome.ok && outcome.retry === 'never') return undefined;
    // Jitter so that many stores created together do not recheck in the same second.
    const jitter = Math.floor(this.#random() * this.#recheckMs * 0.1);
    return { requeueAfterMs: this.#recheckMs + jitter };
  }

  async #validate(
    key: StoreKey,
    store: SecretStore | ClusterSecretStore,
    ctx: ReconcileContext,
  ): Promise<Outcome> {
    const sm = store.spec.secretsManager;
    let url: string;
    try {
      url =
        sm.url ??
        secretsManagerUrl({
          instanceId: sm.instanceId as string,
          region: sm.region as string,
          private: sm.private ?? false,
        });
    } catch (err) {
      return invalidSpec(describeError(err).message);
    }
    const credential = await this.#credential(key, store);
    if (!credential.ok) return credential;
    let caBundle = sm.caBundle;
    if (sm.caSecretRef) {
      const caNamespace = refNamespace(key, sm.caSecretRef);
      const ca = await this.#secretValue(
        caNamespace,
        sm.caSecretRef.name,
        sm.caSecretRef.key,
        'CA bundle',
      );
      if (!ca.ok) return ca;
      caBundle = ca.value;
    }
    const connection: StoreConnection = {
      url,
      iamUrl: sm.iamUrl,
      ...credential.connection,
      ...(caBundle !== undefined ? { caBundle } : {}),
      ...(store.spec.rateLimit ? { rateLimit: store.spec.rateLimit } : {}),
    };
    const id = storeId(key);
    let client: SecretsManagerClient;
    try {
      client = this.#o.pool.get(id, connection);
    } catch (err) {
      return invalidSpec(describeError(err).message);
    }
    const previous = this.#clients.get(id);
    const state = this.#o.registry.stateOf(key);
    // A new client, a new generation or a failing store: prove it with a fresh exchange and
    // login. Otherwise the cached login counts, so a recheck costs no request.
    const fresh =
      previous !== client || !state?.ready || state.generation !== (store.metadata.generation ?? 0);
    this.#clients.set(id, client);
    try {
      await client.validate({ fresh, signal: ctx.signal });
      ctx.log.debug({ fresh }, 'store validated');
      return { ok: true, client, url, identity: credential.identity };
    } catch (err) {
      return classifyStoreError(err);
    }
  }

  /** The API key from its Secret, or the trusted profile and its token source. */
  async #credential(
    key: StoreKey,
    store: SecretStore | ClusterSecretStore,
  ): Promise<
    | { ok: true; connection: Pick<StoreConnection, 'apiKey' | 'trustedProfile'>; identity: string }
    | Extract<Outcome, { ok: false }>
  > {
    const auth = store.spec.secretsManager.auth;
    if (auth.trustedProfile) {
      const tp = trustedProfileCredential(key, auth.trustedProfile, this.#o.tokens);
      if (!tp.ok) return invalidSpec(tp.message);
      return { ok: true, connection: { trustedProfile: tp.credential }, identity: tp.describe };
    }
    const apiKeyRef = auth.apiKey?.secretRef;
    if (!apiKeyRef) {
      return invalidSpec('spec.secretsManager.auth needs apiKey or trustedProfile');
    }
    // A SecretStore reads only from its own namespace, whatever the object says.
    const secretNamespace = refNamespace(key, apiKeyRef);
    const apiKey = await this.#secretValue(
      secretNamespace,
      apiKeyRef.name,
      apiKeyRef.key,
      'API key',
    );
    if (!apiKey.ok) return apiKey;
    return { ok: true, connection: { apiKey: apiKey.value }, identity: "the store's API key" };
  }

  async #secretValue(
    namespace: string,
    name: string,
    key: string,
    what: string,
  ): Promise<{ ok: true; value: string } | Extract<Outcome, { ok: false }>> {
    const missing = (message: string) =>
      ({ ok: false, reason: STORE_REASONS.CredentialsMissing, message, retry: 'later' }) as const;
    let secret: Awaited<ReturnType<typeof readSecret>>;
    try {
      secret = await readSecret(this.#o.core, namespace, name);
    } catch (err) {
      return missing(
        `cannot read the ${what} Secret ${namespace}/${name}: ${describeError(err).message}`,
      );
    }
    if (!secret) return missing(`the ${what} Secret ${namespace}/${name} does not exist`);
    const encoded = secret.data?.[key];
    if (encoded === undefined) {
      return missing(`the ${what} Secret ${namespace}/${name} has no key "${key}"`);
    }
    const value = Buffer.from(encoded, 'base64').toString('utf8').trim();
    if (value === '') return missing(`the key "${key}" of Secret ${namespace}/${name} is empty`);
    return { ok: true, value };
  }

  /** Ready from the outcome; `lastValidatedTime` moves on success, at most every 10 minutes. */
  async #report(
    key: StoreKey,
    obj: KubeObject,
    outcome: Outcome,
    signal: AbortSignal,
  ): Promise<void> {
    if (this.#o.writesStatus && !this.#o.writesStatus()) return;
    const now = new Date(this.#o.clock.now());
    const generation = obj.metadata.generation ?? 0;
    const status = (obj.status ?? {}) as {
      conditions?: Condition[];
      lastValidatedTime?: string;
    };
    const ready = outcome.ok
      ? {
          status: 'True' as const,
          reason: STORE_REASONS.Valid,
          message: `logged in to ${outcome.url} with ${outcome.identity}`,
        }
      : { status: 'False' as const, reason: outcome.reason, message: outcome.message };
    const conditions = setCondition(
      status.conditions,
      { type: READY, ...ready, observedGeneration: generation },
      now,
    );
    const lastValidated = status.lastValidatedTime ? Date.parse(status.lastValidatedTime) : 0;
    const changed =
      !isDeepStrictEqual(conditions, status.conditions) ||
      (status as { observedGeneration?: number }).observedGeneration !== generation;
    const stamp =
      outcome.ok && (changed || now.getTime() - lastValidated >= VALIDATED_TIME_EVERY_MS);
    await this.#status[key.kind].write(
      obj,
      {
        ...status,
        conditions,
        observedGeneration: generation,
        ...(stamp ? { lastValidatedTime: toRfc3339(now) } : {}),
      },
      signal,
    );
  }
}

/** A spec the store cannot work with; retried only when it changes. */
function invalidSpec(message: string): Extract<Outcome, { ok: false }> {
  return { ok: false, reason: STORE_REASONS.InvalidSpec, message, retry: 'never' };
}

/** A SecretStore reads Secrets only in its own namespace; a ClusterSecretStore names one. */
function refNamespace(key: StoreKey, ref: { name: string; namespace?: string }): string {
  return key.kind === 'SecretStore' ? (key.namespace as string) : (ref.namespace as string);
}

/**
 * Tells a bad key, a wrong endpoint and an unreachable endpoint apart. Messages come from the
 * client, which builds them from codes and scrubs server text of the key and tokens.
 */
export function classifyStoreError(err: unknown): Extract<Outcome, { ok: false }> {
  if (!isSecretsManagerError(err)) {
    return {
      ok: false,
      reason: STORE_REASONS.Unreachable,
      message: describeError(err).message,
      retry: 'backoff',
    };
  }
  if (err.operation === CR_TOKEN_OPERATION) {
    // No token to exchange: the service account or token file, not IAM, is the problem.
    return {
      ok: false,
      reason: STORE_REASONS.CredentialsMissing,
      message: err.message,
      retry: 'later',
    };
  }
  const where =
    err.operation === 'iam_token' ? 'IAM (spec.secretsManager.iamUrl)' : 'Secrets Manager';
  switch (err.code) {
    case 'Unauthenticated':
      return { ok: false, reason: STORE_REASONS.AuthFailed, message: err.message, retry: 'later' };
    case 'NotFound':
    case 'InvalidResponse':
    case 'InvalidRequest':
    case 'Forbidden':
      return {
        ok: false,
        reason: STORE_REASONS.WrongEndpoint,
        message:
          `${where} answered, but not as expected: ${err.message}. Check ` +
          (err.operation === 'iam_token'
            ? 'spec.secretsManager.iamUrl'
            : 'spec.secretsManager.url (the Vault API base URL of the instance) or instanceId and region'),
        retry: 'later',
      };
    default: {
      const cause = err.cause ? ` (${err.cause.code ?? err.cause.name}: ${err.cause.message})` : '';
      return {
        ok: false,
        reason: STORE_REASONS.Unreachable,
        message: `cannot reach ${where}: ${err.message}${cause}`,
        retry: 'backoff',
      };
    }
  }
}
