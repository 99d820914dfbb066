import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import type { Controller } from './controller.ts';
import { parseBody } from './engines/engine.ts';
import { ApiError, errorReply, json, noContent, type Reply } from './reply.ts';
import { Router } from './router.ts';
import { seedSecretSchema } from './seed.ts';
import type { AdminHandler } from './server.ts';
import { apiKeySpecSchema, faultsPatchSchema } from './types.ts';

interface AdminCtx {
  controller: Controller;
  body: unknown;
}

const groupSchema = z.object({
  name: z.string().min(1),
  description: z.string().optional(),
  id: z.string().optional(),
});
const validateSchema = z.object({ apikey: z.string().min(1) });
const clockSchema = z.object({ advanceSeconds: z.number().min(0) });

function routes(): Router<AdminCtx> {
  const r = new Router<AdminCtx>();
  const add = (
    method: string,
    path: string,
    handler: (c: AdminCtx, p: Record<string, string>) => Reply,
  ) => r.add({ method, pattern: `/__emulator${path}`, family: 'admin', handler });
  add('GET', '/health', () => json(200, { ok: true }));
  add('GET', '/counters', (c) => json(200, c.controller.counters()));
  add('POST', '/counters/reset', (c) => {
    c.controller.resetCounters();
    return noContent();
  });
  add('GET', '/faults', (c) => json(200, c.controller.faults()));
  add('PUT', '/faults', (c) => {
    c.controller.setFaults(parseBody(faultsPatchSchema, c.body ?? {}));
    return json(200, c.controller.faults());
  });
  add('DELETE', '/faults', (c) => {
    c.controller.clearFaults();
    return json(200, c.controller.faults());
  });
  add('POST', '/reset', (c) => {
    c.controller.reset();
    return noContent();
  });
  add('POST', '/groups', (c) =>
    json(201, { id: c.controller.createGroup(parseBody(groupSchema, c.body)) }),
  );
  add('POST', '/secrets', (c) =>
    json(201, c.controller.createSecretDetailed(parseBody(seedSecretSchema, c.body))),
  );
  add('POST', '/secrets/:id/rotate', (c, p) => {
    const fields = parseBody(z.record(z.string(), z.unknown()), c.body ?? {});
    return json(200, { id: p.id, version_id: c.controller.rotateSecret(p.id!, fields) ?? null });
  });
  add('DELETE', '/secrets/:id', (c, p) => {
    c.controller.deleteSecret(p.id!);
    return noContent();
  });
  add('POST', '/api-keys', (c) => {
    c.controller.addApiKey(parseBody(apiKeySpecSchema, c.body));
    return noContent();
  });
  add('POST', '/api-keys/validate', (c) =>
    json(200, { valid: c.controller.isApiKeyValid(parseBody(validateSchema, c.body).apikey) }),
  );
  add('GET', '/credentials', (c) => json(200, { credentials: c.controller.credentials() }));
  add('POST', '/clock', (c) => {
    c.controller.advanceClock(parseBody(clockSchema, c.body).advanceSeconds * 1000);
    return json(200, { now: new Date(c.controller.now()).toISOString() });
  });
  return r;
}

function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.'))
  );
}

/**
 * The admin API under `/__emulator/`: counters, faults, reset, state helpers, the clock. No
 * authentication, so it answers only on loopback.
 */
export function adminHandler(controller: Controller): AdminHandler {
  const router = routes();
  return async (req: IncomingMessage, pathname: string, rawBody: string) => {
    const url = req.url ?? pathname;
    try {
      if (!isLoopback(req.socket.remoteAddress))
        throw new ApiError(403, 'the admin API answers only on loopback');
      const match = router.match(req.method ?? 'GET', pathname);
      if (!match) throw new ApiError(404, `no admin route for ${req.method} ${pathname}`);
      let body: unknown;
      if (rawBody.length > 0) {
        try {
          body = JSON.parse(rawBody);
        } catch {
          throw new ApiError(400, 'the body must be JSON');
        }
      }
      return match.route.handler({ controller, body }, match.params);
    } catch (err) {
      if (err instanceof ApiError) return errorReply('admin', err, url);
      if (err instanceof Error && err.name === 'SeedError')
        return errorReply('admin', new ApiError(400, err.message), url);
      throw err;
    }
  };
}
