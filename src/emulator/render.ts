import type { Engine, View } from './engines/engine.ts';
import { sorted } from './engines/engine.ts';
import { DEFAULT_GROUP, type Secret } from './store.ts';
import { rfc3339 } from './util.ts';
import type { World } from './world.ts';

/** The fields every secret type has; `secret_group_id` only outside the default group. */
export function baseFields(world: World, secret: Secret): Record<string, unknown> {
  const out: Record<string, unknown> = {
    created_by: secret.createdBy,
    creation_date: rfc3339(secret.createdAt),
    crn: world.crn('secret', secret.id),
    id: secret.id,
    labels: secret.labels,
    last_update_date: rfc3339(secret.updatedAt),
    name: secret.name,
    secret_type: secret.type,
    state: 1,
    state_description: 'Active',
  };
  if (secret.description !== undefined) out.description = secret.description;
  if (secret.expirationDate !== undefined) out.expiration_date = secret.expirationDate;
  if (secret.groupId !== DEFAULT_GROUP) out.secret_group_id = secret.groupId;
  return out;
}

export function renderObject(
  world: World,
  engine: Engine,
  secret: Secret,
  view: View,
): Record<string, unknown> {
  const out = baseFields(world, secret);
  engine.decorate(secret, view, out);
  return sorted(out);
}

/** Serialized rendering, cached on the secret until it changes (reads are the hot path). */
export function renderJson(world: World, engine: Engine, secret: Secret, view: View): string {
  let json = secret.rendered.get(view);
  if (json === undefined) {
    json = JSON.stringify(renderObject(world, engine, secret, view));
    secret.rendered.set(view, json);
  }
  return json;
}
