import { ApiError, badRequest } from './reply.ts';
import { newId } from './util.ts';

export const SECRET_TYPES = [
  'arbitrary',
  'iam_credentials',
  'kv',
  'username_password',
  'imported_cert',
  'public_cert',
  'private_cert',
  'service_credentials',
] as const;
export type SecretType = (typeof SECRET_TYPES)[number];

/** The default group's ID, as the locks responses print it. */
export const DEFAULT_GROUP = 'default';

export interface SecretGroup {
  id: string;
  name: string;
  description: string;
  createdAt: number;
  updatedAt: number;
}

export interface Lock {
  name: string;
  description: string;
  attributes: Record<string, unknown>;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
}

export interface SecretVersion {
  id: string;
  createdBy: string;
  createdAt: number;
  /** The `secret_data` of this version; undefined once the payload is gone. */
  data: Record<string, unknown> | undefined;
  downloaded: boolean;
  autoRotated: boolean;
  /** Per-version fields an engine reports (serial_number, validity, expiration_date, ...). */
  fields: Record<string, unknown>;
  locks: Map<string, Lock>;
}

export interface RotationPolicy {
  id: string;
  createdBy: string;
  updatedBy: string;
  createdAt: number;
  updatedAt: number;
  rotation: { interval: number; unit: string };
}

export interface Secret {
  id: string;
  type: SecretType;
  name: string;
  description: string | undefined;
  labels: string[];
  groupId: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  expirationDate: string | undefined;
  /** Engine-specific metadata (ttl, access_groups, common_name, ...). */
  attrs: Record<string, unknown>;
  versions: SecretVersion[];
  policy: RotationPolicy | undefined;
  /** Serialized renderings by view; cleared on every change so reads stay cheap. */
  rendered: Map<string, string>;
}

/** Versions older than the previous one lose their payload, as the service keeps only two. */
const VERSIONS_WITH_PAYLOAD = 2;

const nameKey = (type: string, groupId: string, name: string): string =>
  `${type}\u0000${groupId}\u0000${name}`;

/** Secret groups and secrets, in memory. No access control here: routes do that. */
export class Store {
  readonly groups = new Map<string, SecretGroup>();
  readonly secrets = new Map<string, Secret>();
  readonly #names = new Map<string, string>();

  clear(): void {
    this.groups.clear();
    this.secrets.clear();
    this.#names.clear();
  }

  createGroup(spec: { name: string; description?: string; id?: string }, now: number): SecretGroup {
    if (spec.name === DEFAULT_GROUP) throw badRequest('the name "default" is reserved');
    if (this.groupByName(spec.name)) {
      throw badRequest(`a secret group named "${spec.name}" already exists`);
    }
    const id = spec.id ?? newId();
    if (this.groups.has(id)) throw badRequest(`a secret group with ID ${id} already exists`);
    const group = {
      id,
      name: spec.name,
      description: spec.description ?? '',
      createdAt: now,
      updatedAt: now,
    };
    this.groups.set(id, group);
    return group;
  }

  groupByName(name: string): SecretGroup | undefined {
    for (const g of this.groups.values()) if (g.name === name) return g;
    return undefined;
  }

  /** A group ID from an ID or a name; `default` is the default group. */
  resolveGroupId(idOrName: string): string | undefined {
    if (idOrName === DEFAULT_GROUP) return DEFAULT_GROUP;
    if (this.groups.has(idOrName)) return idOrName;
    return this.groupByName(idOrName)?.id;
  }

  deleteGroup(id: string): void {
    for (const s of this.secrets.values()) {
      if (s.groupId === id)
        throw badRequest('the secret group is not empty: delete its secrets first');
    }
    this.groups.delete(id);
  }

  addSecret(secret: Secret): void {
    const key = nameKey(secret.type, secret.groupId, secret.name);
    if (this.#names.has(key)) {
      throw badRequest(
        `a ${secret.type} secret named "${secret.name}" already exists in this secret group`,
      );
    }
    this.secrets.set(secret.id, secret);
    this.#names.set(key, secret.id);
  }

  rename(secret: Secret, name: string): void {
    if (name === secret.name) return;
    const key = nameKey(secret.type, secret.groupId, name);
    if (this.#names.has(key)) {
      throw badRequest(
        `a ${secret.type} secret named "${name}" already exists in this secret group`,
      );
    }
    this.#names.delete(nameKey(secret.type, secret.groupId, secret.name));
    this.#names.set(key, secret.id);
    secret.name = name;
  }

  deleteSecret(secret: Secret): void {
    this.secrets.delete(secret.id);
    this.#names.delete(nameKey(secret.type, secret.groupId, secret.name));
  }

  /**
   * By ID the secret is found in any group unless a group is named; by name it is looked up in
   * the named group, or the default group.
   */
  find(type: SecretType, groupId: string | undefined, idOrName: string): Secret | undefined {
    const byId = this.secrets.get(idOrName);
    if (byId && byId.type === type && (groupId === undefined || byId.groupId === groupId)) {
      return byId;
    }
    const id = this.#names.get(nameKey(type, groupId ?? DEFAULT_GROUP, idOrName));
    return id === undefined ? undefined : this.secrets.get(id);
  }

  list(type: SecretType, groupId: string | undefined): Secret[] {
    const out: Secret[] = [];
    for (const s of this.secrets.values()) {
      if (s.type === type && (groupId === undefined || s.groupId === groupId)) out.push(s);
    }
    return out;
  }

  addVersion(secret: Secret, version: SecretVersion): void {
    secret.versions.push(version);
    const stale = secret.versions.length - VERSIONS_WITH_PAYLOAD;
    for (let i = 0; i < stale; i++) {
      const v = secret.versions[i]!;
      if (v.locks.size === 0) v.data = undefined;
    }
    secret.updatedAt = version.createdAt;
    secret.rendered.clear();
  }
}

export function currentVersion(secret: Secret): SecretVersion | undefined {
  return secret.versions[secret.versions.length - 1];
}

export function previousVersion(secret: Secret): SecretVersion | undefined {
  return secret.versions[secret.versions.length - 2];
}

/** A version by ID or by the `current` / `previous` aliases. */
export function versionByRef(secret: Secret, ref: string): SecretVersion {
  const v =
    ref === 'current'
      ? currentVersion(secret)
      : ref === 'previous'
        ? previousVersion(secret)
        : secret.versions.find((x) => x.id === ref);
  if (!v) throw new ApiError(404, `secret version "${ref}" not found`);
  return v;
}

export function aliasOf(secret: Secret, v: SecretVersion): 'current' | 'previous' | undefined {
  if (v === currentVersion(secret)) return 'current';
  if (v === previousVersion(secret)) return 'previous';
  return undefined;
}

export function newVersion(
  createdBy: string,
  now: number,
  data: Record<string, unknown> | undefined,
  fields: Record<string, unknown> = {},
): SecretVersion {
  return {
    id: newId(),
    createdBy,
    createdAt: now,
    data,
    downloaded: false,
    autoRotated: false,
    fields,
    locks: new Map(),
  };
}

export function totalLocks(secret: Secret): number {
  let n = 0;
  for (const v of secret.versions) n += v.locks.size;
  return n;
}
