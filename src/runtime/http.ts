import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { BindAddress } from '../config/values.ts';

/** A named health or readiness check: `true`/ok, or a reason it is not. */
export type Check = () => true | string;

/** Named checks behind `/healthz` and `/readyz`, as controller-runtime's manager has them. */
export class HealthChecks {
  readonly #healthz = new Map<string, Check>();
  readonly #readyz = new Map<string, Check>();

  addHealthz(name: string, check: Check): void {
    this.#healthz.set(name, check);
  }

  addReadyz(name: string, check: Check): void {
    this.#readyz.set(name, check);
  }

  healthz(): CheckReport {
    return run(this.#healthz);
  }

  readyz(): CheckReport {
    return run(this.#readyz);
  }
}

export interface CheckReport {
  ok: boolean;
  /** One line per check: `[+]name ok` or `[-]name failed: reason` (the kube-apiserver format). */
  lines: string[];
}

function run(checks: Map<string, Check>): CheckReport {
  const lines: string[] = [];
  let ok = true;
  for (const [name, check] of checks) {
    let result: true | string;
    try {
      result = check();
    } catch (err) {
      result = err instanceof Error ? err.message : 'check threw';
    }
    if (result === true) lines.push(`[+]${name} ok`);
    else {
      ok = false;
      lines.push(`[-]${name} failed: ${result}`);
    }
  }
  return { ok, lines };
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface RunningServer {
  /** The address actually bound, e.g. `127.0.0.1:41234` when port 0 was asked for. */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on `bind` and serves `routes` (GET only); anything else is 404/405. */
export async function serve(
  bind: BindAddress,
  routes: Record<string, Handler>,
): Promise<RunningServer> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const route = routes[path];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' })
        .end('method not allowed\n');
      return;
    }
    Promise.resolve(route(req, res)).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end('internal error\n');
    });
  });
  // Probes and scrapes are short; do not let an idle keep-alive connection delay shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bind.port, bind.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const info = server.address() as AddressInfo;
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return {
    address: `${host}:${info.port}`,
    port: info.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `/metrics` in the Prometheus text format. */
export function metricsRoutes(registry: Registry): Record<string, Handler> {
  return {
    '/metrics': async (_req, res) => {
      const body = await registry.metrics();
      res.writeHead(200, { 'content-type': registry.contentType }).end(body);
    },
  };
}

/** `/healthz` and `/readyz`: 200 `ok` or 500 with the failing checks; `?verbose` lists all. */
export function healthRoutes(checks: HealthChecks): Record<string, Handler> {
  const respond = (report: CheckReport, req: IncomingMessage, res: ServerResponse) => {
    const verbose = new URL(req.url ?? '/', 'http://localhost').searchParams.has('verbose');
    const status = report.ok ? 200 : 500;
    const body =
      report.ok && !verbose
        ? 'ok\n'
        : `${report.lines.filter((l) => verbose || l.startsWith('[-]')).join('\n')}\n${report.ok ? 'ok' : 'failed'}\n`;
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  };
  return {
    '/healthz': (req, res) => respond(checks.healthz(), req, res),
    '/readyz': (req, res) => respond(checks.readyz(), req, res),
  };
}
