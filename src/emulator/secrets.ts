import { z } from 'zod';
import type { EngineContext } from './engines/engine.ts';
import { parseBody } from './engines/engine.ts';
import { ENGINES } from './engines/index.ts';
import { deleteServiceCredentialKeys } from './engines/service-credentials.ts';
import { badRequest } from './reply.ts';
import { newVersion, type Secret, type SecretType, totalLocks } from './store.ts';
import { newId } from './util.ts';

const nameSchema = z
  .string()
  .min(2)
  .max(256)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "-", "_" and "." only');

const dateSchema = z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an RFC 3339 date');

const commonSchema = z.object({
  name: nameSchema,
  description: z.string().max(1024).optional(),
  labels: z.array(z.string().min(1).max(30)).max(30).optional(),
  expiration_date: dateSchema.optional(),
});

const metadataSchema = z.object({
  name: nameSchema.optional(),
  description: z.string().max(1024).optional(),
  labels: z.array(z.string().min(1).max(30)).max(30).optional(),
  expiration_date: dateSchema.optional(),
});

/** Creates a secret of any type in a group; `body` is the documented create request. */
export function createSecret(
  type: SecretType,
  groupId: string,
  body: Record<string, unknown>,
  ctx: EngineContext,
  id: string = newId(),
): Secret {
  const engine = ENGINES[type];
  const common = parseBody(commonSchema, body);
  const created = engine.create(body, ctx);
  const secret: Secret = {
    id,
    type,
    name: common.name,
    description: common.description,
    labels: common.labels ?? [],
    groupId,
    createdBy: ctx.createdBy,
    createdAt: ctx.now,
    updatedAt: ctx.now,
    expirationDate:
      created.expirationDate ?? (engine.userExpiration ? common.expiration_date : undefined),
    attrs: created.attrs,
    versions: [],
    policy: undefined,
    rendered: new Map(),
  };
  ctx.world.store.addSecret(secret);
  if (created.data !== undefined) {
    ctx.world.store.addVersion(
      secret,
      newVersion(ctx.createdBy, ctx.now, created.data, created.fields),
    );
  }
  return secret;
}

/** A new version from the rotate request; returns the new version ID when one was stored. */
export function rotateSecret(
  secret: Secret,
  body: Record<string, unknown>,
  ctx: EngineContext,
): string | undefined {
  const rotated = ENGINES[secret.type].rotate(secret, body, ctx);
  if (rotated.attrs) Object.assign(secret.attrs, rotated.attrs);
  if (rotated.expirationDate !== undefined) secret.expirationDate = rotated.expirationDate;
  secret.updatedAt = ctx.now;
  secret.rendered.clear();
  if (rotated.data === undefined) return undefined;
  const v = newVersion(ctx.createdBy, ctx.now, rotated.data, rotated.fields);
  ctx.world.store.addVersion(secret, v);
  return v.id;
}

export function updateMetadata(
  secret: Secret,
  body: Record<string, unknown>,
  ctx: EngineContext,
): void {
  const engine = ENGINES[secret.type];
  const b = parseBody(metadataSchema, body);
  if (b.expiration_date !== undefined && !engine.userExpiration) {
    throw badRequest(`expiration_date cannot be set on ${secret.type} secrets`);
  }
  engine.updateMetadata?.(secret, body, ctx);
  if (b.name !== undefined) ctx.world.store.rename(secret, b.name);
  if (b.description !== undefined) secret.description = b.description;
  if (b.labels !== undefined) secret.labels = b.labels;
  if (b.expiration_date !== undefined) secret.expirationDate = b.expiration_date;
  secret.updatedAt = ctx.now;
  secret.rendered.clear();
}

/** Deletes a secret and whatever it issued (minted credentials, resource keys). */
export function deleteSecret(secret: Secret, ctx: Pick<EngineContext, 'world' | 'strict'>): void {
  if (ctx.strict && totalLocks(secret) > 0) {
    throw badRequest('the secret is locked: remove its locks before deleting it');
  }
  if (secret.type === 'iam_credentials')
    ctx.world.credentials.revokeAllOf(secret.id, 'secretDelete');
  if (secret.type === 'service_credentials') deleteServiceCredentialKeys(secret, ctx);
  ctx.world.store.deleteSecret(secret);
}
