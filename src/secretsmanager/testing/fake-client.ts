/**
 * An in-memory SecretsManagerClient for controller unit tests: secrets a test puts in, IAM
 * credentials minted per read (or reused), revocations recorded, and errors injected per method.
 * For end-to-end behaviour use the emulator instead.
 */
import type { IamCredentialsRef, ListFilter, SecretsManagerClient } from '../client.ts';
import { SecretsManagerError } from '../errors.ts';
import type { IamCredentials, RemoteSecret, SecretMetadata, SecretRef } from '../types.ts';

type Method = Exclude<keyof SecretsManagerClient, 'close'>;

export interface FakeIamSecret {
  id: string;
  name: string;
  groupId?: string;
  ttlSeconds: number;
  reuseApiKey?: boolean;
  /** Hand out lease IDs like generic Vault. */
  leaseIds?: boolean;
}

export class FakeSecretsManagerClient implements SecretsManagerClient {
  readonly calls: Array<{ method: Method; args: unknown[] }> = [];
  readonly revokedLeases: string[] = [];
  readonly deletedVersions: Array<{ secretId: string; versionId: string }> = [];
  readonly deletedServiceIds: string[] = [];
  /** Every credential handed out, in order. */
  readonly minted: IamCredentials[] = [];
  readonly #secrets: RemoteSecret[] = [];
  readonly #iam: FakeIamSecret[] = [];
  readonly #current = new Map<string, IamCredentials>();
  readonly #failures = new Map<Method, SecretsManagerError[]>();
  #seq = 0;
  closed = false;
  readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** Adds or replaces a secret (matched by type and ID). */
  put(secret: RemoteSecret): this {
    const i = this.#secrets.findIndex(
      (s) => s.type === secret.type && s.metadata.id === secret.metadata.id,
    );
    if (i >= 0) this.#secrets[i] = secret;
    else this.#secrets.push(secret);
    return this;
  }

  remove(type: RemoteSecret['type'], id: string): this {
    const i = this.#secrets.findIndex((s) => s.type === type && s.metadata.id === id);
    if (i >= 0) this.#secrets.splice(i, 1);
    return this;
  }

  putIamSecret(s: FakeIamSecret): this {
    this.#iam.push(s);
    return this;
  }

  /** The next call(s) of `method` fail with `error`, in order. */
  failNext(method: Method, ...errors: SecretsManagerError[]): this {
    this.#failures.set(method, [...(this.#failures.get(method) ?? []), ...errors]);
    return this;
  }

  async validate(opts?: { fresh?: boolean }): Promise<void> {
    this.#enter('validate', [opts]);
  }

  async getSecret(ref: SecretRef): Promise<RemoteSecret> {
    this.#enter('getSecret', [ref]);
    if (ref.type === 'iam_credentials') {
      const credentials = this.#mint(ref);
      const metadata: SecretMetadata = {
        id: credentials.secretId,
        name: credentials.secretName,
        type: 'iam_credentials',
        groupId: credentials.groupId,
        labels: [],
      };
      return { type: 'iam_credentials', metadata, credentials };
    }
    const found = this.#secrets.find(
      (s) =>
        s.type === ref.type &&
        (ref.id !== undefined ? s.metadata.id === ref.id : s.metadata.name === ref.name) &&
        sameGroup(s.metadata.groupId, ref.group),
    );
    if (!found) throw notFound(ref);
    return structuredClone(found);
  }

  async getSecretMetadata(ref: SecretRef): Promise<SecretMetadata> {
    this.#enter('getSecretMetadata', [ref]);
    if (ref.type === 'iam_credentials') {
      const def = this.#iam.find(
        (s) =>
          (ref.id !== undefined ? s.id === ref.id : s.name === ref.name) &&
          sameGroup(s.groupId ?? 'default', ref.group),
      );
      if (!def) throw notFound(ref);
      return {
        id: def.id,
        name: def.name,
        type: 'iam_credentials',
        groupId: def.groupId ?? 'default',
        labels: [],
        reuseApiKey: def.reuseApiKey === true,
      };
    }
    const found = this.#secrets.find(
      (s) =>
        s.type === ref.type &&
        (ref.id !== undefined ? s.metadata.id === ref.id : s.metadata.name === ref.name) &&
        sameGroup(s.metadata.groupId, ref.group),
    );
    if (!found) throw notFound(ref);
    return structuredClone(found.metadata);
  }

  async listSecrets(filter: ListFilter = {}): Promise<SecretMetadata[]> {
    this.#enter('listSecrets', [filter]);
    const all: SecretMetadata[] = [
      ...this.#secrets.map((s) => s.metadata),
      ...this.#iam.map((s) => ({
        id: s.id,
        name: s.name,
        type: 'iam_credentials' as const,
        groupId: s.groupId ?? 'default',
        labels: [],
      })),
    ];
    return all.filter(
      (m) =>
        (!filter.type || m.type === filter.type) &&
        (filter.group === undefined || m.groupId === filter.group) &&
        (filter.labels ?? []).every((l) => m.labels.includes(l)) &&
        (!filter.nameRegex || new RegExp(filter.nameRegex.source).test(m.name)),
    );
  }

  async getIamCredentials(ref: IamCredentialsRef): Promise<IamCredentials> {
    this.#enter('getIamCredentials', [ref]);
    return this.#mint({ ...ref, type: 'iam_credentials' });
  }

  async revokeLease(leaseId: string): Promise<void> {
    this.#enter('revokeLease', [leaseId]);
    this.revokedLeases.push(leaseId);
  }

  async deleteSecretVersionData(secretId: string, versionId: string): Promise<void> {
    this.#enter('deleteSecretVersionData', [secretId, versionId]);
    this.deletedVersions.push({ secretId, versionId });
  }

  async deleteServiceId(serviceId: string): Promise<void> {
    this.#enter('deleteServiceId', [serviceId]);
    this.deletedServiceIds.push(serviceId);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  #enter(method: Method, args: unknown[]): void {
    this.calls.push({ method, args });
    const queue = this.#failures.get(method);
    const next = queue?.shift();
    if (next) throw next;
  }

  #mint(ref: SecretRef): IamCredentials {
    const def = this.#iam.find(
      (s) =>
        (ref.id !== undefined ? s.id === ref.id : s.name === ref.name) &&
        sameGroup(s.groupId ?? 'default', ref.group),
    );
    if (!def) throw notFound(ref);
    const now = this.now();
    const current = this.#current.get(def.id);
    if (def.reuseApiKey && current && current.receivedAt + current.ttlSeconds * 1000 > now) {
      const remaining = Math.ceil((current.receivedAt + current.ttlSeconds * 1000 - now) / 1000);
      return { ...current, ttlSeconds: remaining, receivedAt: now };
    }
    const n = ++this.#seq;
    const creds: IamCredentials = {
      apiKey: `fake-api-key-${n}`,
      apiKeyId: `ApiKey-fake-${n}`,
      serviceId: `ServiceId-fake-${n}`,
      ttlSeconds: def.ttlSeconds,
      ...(def.leaseIds ? { leaseId: `ibmcloud/iam_credentials/creds/${def.name}/${n}` } : {}),
      leaseDuration: def.leaseIds ? def.ttlSeconds : 0,
      renewable: false,
      secretId: def.id,
      secretName: def.name,
      secretVersionId: `version-fake-${n}`,
      groupId: def.groupId ?? 'default',
      ...(def.reuseApiKey !== undefined ? { reuseApiKey: def.reuseApiKey } : {}),
      receivedAt: now,
    };
    this.#current.set(def.id, creds);
    this.minted.push(creds);
    return { ...creds };
  }
}

function sameGroup(actual: string, wanted: string | undefined): boolean {
  return (wanted === undefined || wanted === '' ? 'default' : wanted) === actual;
}

function notFound(ref: SecretRef): SecretsManagerError {
  return new SecretsManagerError(
    'NotFound',
    `get_secret ${ref.type} secret ${ref.id ?? ref.name}: HTTP 404`,
    { status: 404, operation: 'get_secret' },
  );
}
