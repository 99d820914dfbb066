import { z } from 'zod';
import { groupAllowed } from '../access.ts';
import { parseBody } from '../engines/engine.ts';
import { badRequest, notFound, permissionDenied, vault } from '../reply.ts';
import type { SecretGroup } from '../store.ts';
import { rfc3339 } from '../util.ts';
import { bodyObject, principal, type RequestContext, type Route, requireGroup } from './context.ts';

const GROUP_TYPE = 'application/vnd.ibm.secrets-manager.secret.group+json';

const createSchema = z.object({
  name: z
    .string()
    .min(2)
    .max(64)
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'letters, digits, "-", "_" and "." only'),
  description: z.string().max(1024).optional(),
});

function render(g: SecretGroup) {
  return {
    creation_date: rfc3339(g.createdAt),
    description: g.description,
    id: g.id,
    last_update_date: rfc3339(g.updatedAt),
    name: g.name,
    type: GROUP_TYPE,
  };
}

function find(ctx: RequestContext, id: string): SecretGroup {
  const g = ctx.world.store.groups.get(id);
  if (!g) throw notFound(`secret group "${id}" not found`);
  requireGroup(ctx, g.id);
  return g;
}

/** Secret groups under `auth/ibmcloud/manage/groups`. The default group is not listed. */
export function groupRoutes(): Route[] {
  const base = '/v1/auth/ibmcloud/manage/groups';
  return [
    {
      method: 'POST',
      pattern: base,
      family: 'vault',
      perm: 'manage',
      handler: (ctx) => {
        const p = principal(ctx);
        // A key limited to some groups cannot create new ones it would not be allowed into.
        if (p.groups !== undefined) throw permissionDenied();
        const b = parseBody(createSchema, bodyObject(ctx));
        return vault(render(ctx.world.store.createGroup(b, ctx.world.clock())));
      },
    },
    {
      method: 'GET',
      pattern: base,
      family: 'vault',
      perm: 'metadata',
      handler: (ctx) => {
        const p = principal(ctx);
        const groups = [...ctx.world.store.groups.values()].filter((g) => groupAllowed(p, g.id));
        return vault({ groups: groups.map(render) });
      },
    },
    {
      method: 'GET',
      pattern: `${base}/:group`,
      family: 'vault',
      perm: 'metadata',
      handler: (ctx, params) => vault(render(find(ctx, params.group!))),
    },
    {
      method: 'PUT',
      pattern: `${base}/:group`,
      family: 'vault',
      perm: 'manage',
      handler: (ctx, params) => {
        const g = find(ctx, params.group!);
        const b = parseBody(createSchema, bodyObject(ctx));
        if (b.name !== g.name && ctx.world.store.groupByName(b.name)) {
          throw badRequest(`a secret group named "${b.name}" already exists`);
        }
        g.name = b.name;
        if (b.description !== undefined) g.description = b.description;
        g.updatedAt = ctx.world.clock();
        return vault(render(g));
      },
    },
    {
      method: 'DELETE',
      pattern: `${base}/:group`,
      family: 'vault',
      perm: 'manage',
      handler: (ctx, params) => {
        const g = find(ctx, params.group!);
        ctx.world.store.deleteGroup(g.id);
        return vault(null);
      },
    },
  ];
}
