// The per-installation key of `hashData`. It must survive restarts (otherwise every Secret is
// rewritten once after each restart, because its stamped hash no longer matches) and must not be
// readable by those who can read status, so it lives in a Secret in the operator's namespace.
import { randomBytes } from 'node:crypto';
import { describeError } from '../../runtime/errors.ts';
import { isApiError } from '../../runtime/kube.ts';
import type { CoreApi } from '../../runtime/kubeapi.ts';
import type { Logger } from '../../runtime/logger.ts';
import { COMPONENT, LABELS, MANAGED_BY_VALUE } from './constants.ts';

export const HASH_KEY_SECRET = `${COMPONENT}-hash-key`;
const KEY_FIELD = 'key';
const KEY_BYTES = 32;

export interface HashKeySource {
  get(): Promise<Uint8Array>;
}

/** A fixed key (tests, benchmarks). */
export function fixedHashKey(key: Uint8Array | string): HashKeySource {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return { get: () => Promise.resolve(bytes) };
}

export interface SecretHashKeyOptions {
  core: Pick<CoreApi, 'readNamespacedSecret' | 'createNamespacedSecret'>;
  /** The operator's namespace; without one the key is random per process (logged once). */
  namespace: string | undefined;
  log: Logger;
}

/**
 * Reads the key from the Secret `secrets-manager-operator-hash-key`, creating it with a random
 * key the first time (a concurrent creator wins and both read its key). A failed read is not
 * cached, so the reconcile that needed the key fails and is retried with backoff.
 */
export class SecretHashKey implements HashKeySource {
  readonly #o: SecretHashKeyOptions;
  #key: Promise<Uint8Array> | undefined;

  constructor(options: SecretHashKeyOptions) {
    this.#o = options;
  }

  get(): Promise<Uint8Array> {
    this.#key ??= this.#load().catch((err: unknown) => {
      this.#key = undefined;
      throw err;
    });
    return this.#key;
  }

  async #load(): Promise<Uint8Array> {
    const { core, namespace, log } = this.#o;
    if (namespace === undefined) {
      log.warn(
        'no operator namespace (set POD_NAMESPACE or --leader-election-namespace): the data ' +
          'hash key is random for this process, so each Secret is rewritten once after a restart',
      );
      return randomBytes(KEY_BYTES);
    }
    const existing = await this.#read(namespace);
    if (existing) return existing;
    try {
      await core.createNamespacedSecret({
        namespace,
        body: {
          metadata: {
            name: HASH_KEY_SECRET,
            namespace,
            labels: { [LABELS.managedBy]: MANAGED_BY_VALUE },
          },
          type: 'Opaque',
          data: { [KEY_FIELD]: randomBytes(KEY_BYTES).toString('base64') },
        },
      });
      log.info({ namespace, secret: HASH_KEY_SECRET }, 'created the data hash key');
    } catch (err) {
      if (!isApiError(err, 409)) {
        log.warn({ err: describeError(err), namespace }, 'cannot create the data hash key');
        throw err;
      }
    }
    const created = await this.#read(namespace);
    if (!created) throw new Error(`the Secret ${namespace}/${HASH_KEY_SECRET} has no key`);
    return created;
  }

  async #read(namespace: string): Promise<Uint8Array | undefined> {
    try {
      const secret = await this.#o.core.readNamespacedSecret({ name: HASH_KEY_SECRET, namespace });
      const value = secret.data?.[KEY_FIELD];
      if (!value) return undefined;
      const key = Buffer.from(value, 'base64');
      return key.length >= 16 ? key : undefined;
    } catch (err) {
      if (isApiError(err, 404)) return undefined;
      throw err;
    }
  }
}
