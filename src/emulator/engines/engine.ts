import type { z } from 'zod';
import type { CounterSet } from '../counters.ts';
import type { Credentials } from '../credentials.ts';
import type { EngineConfigs } from '../engine-config.ts';
import type { Iam } from '../iam.ts';
import { badRequest } from '../reply.ts';
import type { Secret, SecretType, SecretVersion, Store } from '../store.ts';
import type { ResolvedOptions } from '../types.ts';
import { type Clock, rfc3339 } from '../util.ts';

/** Which rendering of a secret: a value read, the metadata, or the create response. */
export type View = 'value' | 'metadata' | 'create';

/**
 * The parts of the emulator engines read and change. The World that wires them together
 * satisfies it; engines name the parts rather than the World, so they sit below it.
 */
export interface EngineWorld {
  readonly opts: Pick<ResolvedOptions, 'minCredentialTtlSeconds' | 'maxCredentialTtlSeconds'>;
  readonly clock: Clock;
  readonly counters: CounterSet;
  readonly store: Store;
  readonly iam: Iam;
  readonly credentials: Credentials;
  readonly configs: EngineConfigs;
  readonly accountId: string;
}

export interface EngineContext {
  world: EngineWorld;
  /** The caller's IAM ID, recorded as `created_by`. */
  createdBy: string;
  now: number;
  /** HTTP requests check that referenced engine configurations exist; seeds do not. */
  strict: boolean;
}

export interface Created {
  attrs: Record<string, unknown>;
  /** The first version's `secret_data` (undefined for iam_credentials: minted on read). */
  data: Record<string, unknown> | undefined;
  fields?: Record<string, unknown>;
  expirationDate?: string;
}

export interface Rotated {
  data: Record<string, unknown> | undefined;
  fields?: Record<string, unknown>;
  expirationDate?: string;
  attrs?: Record<string, unknown>;
}

/** One secrets engine: how a type is created, rotated and rendered. */
export interface Engine {
  readonly type: SecretType;
  /** Whether callers may set `expiration_date` (arbitrary, username_password). */
  readonly userExpiration: boolean;
  create(body: Record<string, unknown>, ctx: EngineContext): Created;
  rotate(secret: Secret, body: Record<string, unknown>, ctx: EngineContext): Rotated;
  /** Adds the type's fields to the common ones for a view. */
  decorate(secret: Secret, view: View, out: Record<string, unknown>): void;
  /** Type-specific metadata updates (iam_credentials: ttl, reuse_api_key, access_groups). */
  updateMetadata?(secret: Secret, body: Record<string, unknown>, ctx: EngineContext): void;
}

/** Parses a request body with zod; a failure is a 400 naming the offending fields. */
export function parseBody<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const details = result.error.issues
    .map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message))
    .join('; ');
  throw badRequest(`invalid request: ${details}`);
}

export function versionBase(v: SecretVersion): Record<string, unknown> {
  return { created_by: v.createdBy, creation_date: rfc3339(v.createdAt), id: v.id };
}

/** Sorts keys, as the service (Go maps) prints them. */
export function sorted(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) out[k] = obj[k];
  return out;
}
