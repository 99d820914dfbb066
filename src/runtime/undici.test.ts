import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as undici from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request, requestApi, requestUrl } from './undici.ts';

describe('undici, loaded in parts', () => {
  it('is the very class and request API the package index exports', () => {
    // An upgrade that moves either file fails here, not in the operator.
    expect(Agent).toBe(undici.Agent);
    expect(requestApi).toBe(undici.Dispatcher.prototype.request);
  });

  describe('requests', () => {
    let server: Server;
    let origin: string;
    const agent = new Agent();

    beforeAll(async () => {
      server = createServer((req, res) => {
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, url: req.url, h: req.headers['x-probe'] }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });

    afterAll(async () => {
      await agent.close();
      await new Promise((resolve) => server.close(resolve));
    });

    it('sends through the given dispatcher, headers and method included', async () => {
      const res = await request(agent, {
        origin,
        path: '/a?b=c',
        method: 'PUT',
        headers: { 'x-probe': 'yes' },
        body: '{}',
      });
      expect(res.statusCode).toBe(200);
      expect(await res.body.json()).toEqual({ method: 'PUT', url: '/a?b=c', h: 'yes' });
    });

    it('takes origin, path and query from a URL, and leaves statuses to the caller', async () => {
      const found = await requestUrl(agent, `${origin}/x/y?z=1`, { method: 'GET' });
      expect(await found.body.json()).toEqual({ method: 'GET', url: '/x/y?z=1' });
      const missing = await requestUrl(agent, new URL('/missing', origin), { method: 'GET' });
      expect(missing.statusCode).toBe(404);
      await missing.body.dump();
    });
  });
});
