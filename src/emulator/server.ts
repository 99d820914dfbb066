import type { IncomingMessage, ServerResponse } from 'node:http';
import { roleAllows } from './access.ts';
import { ApiError, errorReply, type Family, type Reply } from './reply.ts';
import type { Router } from './router.ts';
import type { RequestContext } from './routes/context.ts';
import { sleep } from './util.ts';
import type { World } from './world.ts';

/** Request bodies above this are refused (kv payloads are documented up to 512 KB). */
const MAX_BODY_BYTES = 1024 * 1024;

export const ADMIN_PREFIX = '/__emulator/';

export type AdminHandler = (
  req: IncomingMessage,
  pathname: string,
  rawBody: string,
) => Promise<Reply>;

/**
 * The request pipeline: route, injected faults, Vault token and role, handler, error shape,
 * counters. Admin requests skip faults and counters.
 */
export function requestHandler(
  world: World,
  router: Router<RequestContext>,
  admin: AdminHandler,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(world, router, admin, req).then(
      (reply) => write(res, reply),
      (err: unknown) => {
        process.stderr.write(
          `secrets-manager-emulator: internal error: ${(err as Error).message}\n`,
        );
        write(res, { status: 500, body: '{"errors":["internal error"]}' });
      },
    );
  };
}

async function handle(
  world: World,
  router: Router<RequestContext>,
  admin: AdminHandler,
  req: IncomingMessage,
): Promise<Reply> {
  const method = req.method ?? 'GET';
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const pathname = q === -1 ? url : url.slice(0, q);
  let rawBody: string;
  try {
    rawBody = await readBody(req);
  } catch (err) {
    const apiError =
      err instanceof ApiError ? err : new ApiError(400, 'the request body could not be read');
    return errorReply('vault', apiError, url);
  }

  if (pathname.startsWith(ADMIN_PREFIX)) return admin(req, pathname, rawBody);

  const match = router.match(method, pathname);
  if (!match) {
    // Secrets Manager answers every path outside its documented set with 403.
    const reply = pathname.startsWith('/v1/')
      ? errorReply('vault', new ApiError(403, 'permission denied'), url)
      : errorReply('rest', new ApiError(404, `no route for ${method} ${pathname}`), url);
    world.counters.request(`${method} (undocumented)`, reply.status);
    return reply;
  }
  const { route, params, key } = match;
  const reply = await dispatch(world, route.family, key, async () => {
    const ctx: RequestContext = {
      world,
      method,
      pathname,
      query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
      headers: req.headers,
      rawBody,
      body: undefined,
      token: undefined,
    };
    if (route.perm) {
      const token = world.auth.authenticate(vaultToken(req));
      if (!token || !roleAllows(token.principal.role, route.perm)) {
        throw new ApiError(403, 'permission denied');
      }
      ctx.token = token;
    }
    if (route.family !== 'iam' && rawBody.length > 0) ctx.body = parseJson(rawBody);
    return route.handler(ctx, params);
  });
  world.counters.request(key, reply.status);
  return reply;
}

async function dispatch(
  world: World,
  family: Family,
  key: string,
  run: () => Promise<Reply>,
): Promise<Reply> {
  const fault = world.faults.decide(key);
  if (fault.delayMs > 0) {
    world.counters.faults.delayed++;
    await sleep(fault.delayMs);
  }
  if (fault.kind === 'rateLimit') {
    world.counters.faults.rateLimited++;
    const reply = errorReply(
      family,
      new ApiError(429, 'rate limit exceeded, retry later', 'too_many_requests'),
      key,
    );
    return { ...reply, headers: { 'retry-after': fault.retryAfter } };
  }
  if (fault.kind === 'error') {
    world.counters.faults.errors++;
    return errorReply(
      family,
      new ApiError(fault.status, 'injected fault: the service is unavailable'),
      key,
    );
  }
  try {
    return await run();
  } catch (err) {
    if (err instanceof ApiError) return errorReply(family, err, key);
    throw err;
  }
}

function vaultToken(req: IncomingMessage): string | undefined {
  const header = req.headers['x-vault-token'];
  if (typeof header === 'string' && header.length > 0) return header;
  const auth = req.headers.authorization;
  return auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    throw new ApiError(400, 'failed to parse JSON input');
  }
}

function readBody(req: IncomingMessage): Promise<string> | string {
  const length = req.headers['content-length'];
  if (length === undefined && req.headers['transfer-encoding'] === undefined) return '';
  if (length === '0') return '';
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ApiError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function write(res: ServerResponse, reply: Reply): void {
  if (res.headersSent) return;
  const headers: Record<string, string> = { 'cache-control': 'no-store', ...reply.headers };
  if (reply.body !== undefined) headers['content-type'] = 'application/json';
  res.writeHead(reply.status, headers);
  res.end(reply.body);
}
