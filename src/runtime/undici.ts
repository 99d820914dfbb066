// The two parts of undici the operator uses, loaded on their own: the connection pool (`Agent`)
// and the request API. `import { Agent } from 'undici'` runs the package's index, which loads
// all of it (fetch and the WHATWG classes, WebSocket, EventSource, caches, mocks, proxies): 109
// modules and 26 MiB of RSS in a bare Node 24 process, against 24 modules and 13 MiB for these
// two. The operator sends JSON and reads watch streams, which the request API does.
//
// The package declares no `exports`, so these files are reachable by their paths. undici.test.ts
// checks that they are the very class and function the index exports (an upgrade that moves
// them fails the tests, not the operator); test/unit/runtime-imports.test.ts that the operator
// makes its requests in a process that never loads the index. Tests keep importing MockAgent
// from 'undici' itself.
import { createRequire } from 'node:module';
import type * as Undici from 'undici';

const load = createRequire(import.meta.url);

export type Agent = Undici.Agent;
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;

export type { Dispatcher } from 'undici';
export type ResponseData = Undici.Dispatcher.ResponseData;
export type RequestOptions = Undici.Dispatcher.RequestOptions;

type RequestApi = (this: Undici.Dispatcher, options: RequestOptions) => Promise<ResponseData>;

/**
 * What `Dispatcher.prototype.request` is once the index has run: the request API on the given
 * dispatcher (an Agent, a MockAgent, any Dispatcher: it calls only `dispatch`).
 */
export const requestApi = load('undici/lib/api/api-request.js') as RequestApi;

/** One request through `dispatcher`; the body must be consumed or destroyed. */
export function request(dispatcher: Undici.Dispatcher, options: RequestOptions) {
  return requestApi.call(dispatcher, options);
}

/** `request` to a full URL (origin, path and query taken from it). */
export function requestUrl(
  dispatcher: Undici.Dispatcher,
  url: string | URL,
  options: Omit<RequestOptions, 'origin' | 'path'>,
) {
  const u = typeof url === 'string' ? new URL(url) : url;
  return request(dispatcher, { ...options, origin: u.origin, path: u.pathname + u.search });
}
