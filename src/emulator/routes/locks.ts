import { z } from 'zod';
import { parseBody } from '../engines/engine.ts';
import { type Reply, vault } from '../reply.ts';
import type { Params } from '../router.ts';
import {
  aliasOf,
  currentVersion,
  previousVersion,
  SECRET_TYPES,
  type Secret,
  type SecretType,
  type SecretVersion,
  versionByRef,
} from '../store.ts';
import {
  bodyObject,
  findSecret,
  page,
  principal,
  type RequestContext,
  type Route,
} from './context.ts';

const MODES = ['lock', 'lock_exclusive', 'lock_exclusive_delete', 'unlock'] as const;
type Mode = (typeof MODES)[number];

const lockSchema = z.object({
  locks: z
    .array(
      z.object({
        name: z.string().min(1).max(64),
        description: z.string().max(1024).optional(),
        attributes: z.record(z.string(), z.unknown()).optional(),
      }),
    )
    .min(1),
});
const unlockSchema = z.object({ locks: z.array(z.string().min(1)).min(1) });

/** Locks are listed newest first, as in the documented example. */
function listLocks(ctx: RequestContext, secret: Secret, versions: SecretVersion[]): Reply {
  const all = versions.flatMap((v) =>
    [...v.locks.values()].map((l) => ({
      attributes: l.attributes,
      created_by: l.createdBy,
      creation_date: new Date(l.createdAt).toISOString(),
      description: l.description,
      last_update_date: new Date(l.updatedAt).toISOString(),
      name: l.name,
      secret_group_id: secret.groupId,
      secret_id: secret.id,
      secret_version_alias: aliasOf(secret, v) ?? '',
      secret_version_id: v.id,
    })),
  );
  all.sort((a, b) => (a.creation_date < b.creation_date ? 1 : -1));
  const locks = page(all, ctx.query, (l) => l.name, 25);
  return vault({ locks, locks_total: all.length });
}

/** The lock/unlock response: the secret's aliased versions and their lock names. */
function lockState(secret: Secret): Reply {
  const versions = [currentVersion(secret), previousVersion(secret)]
    .filter((v): v is SecretVersion => v !== undefined)
    .map((v) => ({
      alias: aliasOf(secret, v),
      id: v.id,
      locks: [...v.locks.keys()],
      payload_available: v.data !== undefined,
    }));
  return vault({ secret_group_id: secret.groupId, secret_id: secret.id, versions });
}

function changeLocks(
  ctx: RequestContext,
  secret: Secret,
  version: SecretVersion,
  mode: Mode,
): Reply {
  const body = bodyObject(ctx);
  if (mode === 'unlock') {
    const names = parseBody(unlockSchema, body).locks;
    if (names.includes('*')) version.locks.clear();
    else for (const n of names) version.locks.delete(n);
  } else {
    const { locks } = parseBody(lockSchema, body);
    const now = ctx.world.clock();
    const by = principal(ctx).iamId;
    for (const l of locks) {
      const existing = version.locks.get(l.name);
      version.locks.set(l.name, {
        name: l.name,
        description: l.description ?? '',
        attributes: l.attributes ?? {},
        createdBy: existing?.createdBy ?? by,
        createdAt: existing?.createdAt ?? now,
        updatedAt: now,
      });
    }
    if (mode !== 'lock') {
      // Exclusive: the same names leave the other versions; with _delete, an unlocked previous
      // version also loses its data.
      const prev = previousVersion(secret);
      for (const v of secret.versions) {
        if (v === version) continue;
        for (const l of locks) v.locks.delete(l.name);
      }
      if (mode === 'lock_exclusive_delete' && prev && prev !== version && prev.locks.size === 0) {
        prev.data = undefined;
      }
    }
  }
  secret.rendered.clear();
  return lockState(secret);
}

const type = (p: Params): SecretType => p.type as SecretType;

export function lockRoutes(): Route[] {
  const routes: Route[] = [];
  const v = { family: 'vault', types: SECRET_TYPES } as const;
  for (const [prefix, grouped] of [
    ['/v1/ibmcloud/:type/locks/:id', false],
    ['/v1/ibmcloud/:type/locks/groups/:group/:id', true],
  ] as const) {
    const find = (c: RequestContext, p: Params) =>
      findSecret(c, type(p), grouped ? p.group : undefined, p.id!);
    routes.push(
      {
        ...v,
        method: 'GET',
        pattern: prefix,
        perm: 'metadata',
        handler: (c, p) => {
          const s = find(c, p);
          return listLocks(c, s, [...s.versions].reverse());
        },
      },
      {
        ...v,
        method: 'GET',
        pattern: `${prefix}/versions/:version`,
        perm: 'metadata',
        handler: (c, p) => {
          const s = find(c, p);
          return listLocks(c, s, [versionByRef(s, p.version!)]);
        },
      },
    );
    for (const mode of MODES) {
      routes.push(
        {
          ...v,
          method: 'POST',
          pattern: `${prefix}/${mode}`,
          perm: 'write',
          handler: (c, p) => {
            const s = find(c, p);
            return changeLocks(c, s, versionByRef(s, 'current'), mode);
          },
        },
        {
          ...v,
          method: 'POST',
          pattern: `${prefix}/versions/:version/${mode}`,
          perm: 'write',
          handler: (c, p) => {
            const s = find(c, p);
            return changeLocks(c, s, versionByRef(s, p.version!), mode);
          },
        },
      );
    }
  }
  return routes;
}
