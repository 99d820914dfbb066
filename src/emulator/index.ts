import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminHandler } from './admin.ts';
import { Controller } from './controller.ts';
import type { Counters } from './counters.ts';
import type { CredentialInfo } from './credentials.ts';
import { type EmulatorOptions, resolveOptions } from './options.ts';
import type { TrustedProfileSpec } from './profiles.ts';
import { Router } from './router.ts';
import { authRoutes } from './routes/auth.ts';
import { configRoutes } from './routes/config.ts';
import type { RequestContext } from './routes/context.ts';
import { groupRoutes } from './routes/groups.ts';
import { iamRoutes } from './routes/iam.ts';
import { iamCredentialRoutes } from './routes/iam-credentials.ts';
import { leaseRoutes } from './routes/leases.ts';
import { lockRoutes } from './routes/locks.ts';
import { secretRoutes } from './routes/secrets.ts';
import { type SeedData, type SeedSecret, seedDataSchema } from './seed.ts';
import { requestHandler } from './server.ts';
import type { ApiKeySpec, Faults, FaultsUpdate } from './types.ts';
import { World } from './world.ts';

export type { Counters, RequestKinds, RevocationRoute } from './counters.ts';
export { requestKinds } from './counters.ts';
export type { CredentialInfo } from './credentials.ts';
export type { EmulatorOptions } from './options.ts';
export type { CrTokenConfig, TrustedProfileSpec } from './profiles.ts';
export { loadSeedFile, parseSeed, type SeedData, type SeedSecret } from './seed.ts';
export { SECRET_TYPES, type SecretType } from './store.ts';
export type { ApiKeySpec, Faults, FaultsUpdate, Role } from './types.ts';

export interface Emulator {
  /** `http://127.0.0.1:<port>`: the Vault API, the REST call, IAM and IAM Identity all live here. */
  url: string;
  port: number;
  stop(): Promise<void>;
  faults(): Faults;
  /** Merges into the current faults; `null` clears an optional one (routes, TTL overrides). */
  setFaults(f: FaultsUpdate): void;
  counters(): Counters;
  resetCounters(): void;
  /** Back to the seed and start-up keys: no tokens, credentials or extra secrets; zero counters. */
  reset(): void;
  createGroup(spec: { name: string; description?: string; id?: string }): string;
  /** Creates a secret of any type (the seed file's shape) and returns its ID. */
  createSecret(spec: SeedSecret): string;
  /** A new version; returns its ID (undefined for iam_credentials). */
  rotateSecret(idOrName: string, fields?: Record<string, unknown>): string | undefined;
  deleteSecret(idOrName: string): void;
  addApiKey(spec: ApiKeySpec): void;
  /** A trusted profile the cr-token grant can become; returns its ID and CRN. */
  addTrustedProfile(spec: TrustedProfileSpec): { id: string; crn: string };
  /** The account of the instance (and of trusted profiles that name none). */
  accountId: string;
  /** The revocation probe: would IAM accept this API key right now? */
  isApiKeyValid(apiKey: string): boolean;
  /** Minted IAM credentials, live and ended (never the API keys themselves). */
  credentials(): CredentialInfo[];
  /** API keys of minted credentials, live and ended (in-process only: a probe for leaked keys). */
  mintedApiKeys(): string[];
  /** Moves time forward on top of the injected clock, and expires what is due. */
  advanceClock(ms: number): void;
  /** Expires due credentials now (the periodic sweep does this every second). */
  sweep(): void;
}

export function buildRouter(): Router<RequestContext> {
  const router = new Router<RequestContext>();
  for (const r of [
    ...iamRoutes(),
    ...authRoutes(),
    ...groupRoutes(),
    ...secretRoutes(),
    ...iamCredentialRoutes(),
    ...lockRoutes(),
    ...configRoutes(),
    ...leaseRoutes(),
  ]) {
    router.add(r);
  }
  return router;
}

/** Starts an emulator on 127.0.0.1 (a free port unless one is given). */
export async function startEmulator(opts: EmulatorOptions = {}): Promise<Emulator> {
  const world = new World(resolveOptions(opts), opts.clock ?? Date.now);
  const seed: SeedData | undefined = opts.seed ? seedDataSchema.parse(opts.seed) : undefined;
  const controller = new Controller(world, seed, opts.apiKeys ?? []);
  const server = createServer(
    { keepAliveTimeout: 65_000 },
    requestHandler(world, buildRouter(), adminHandler(controller)),
  );
  const host = opts.host ?? '127.0.0.1';
  await listen(server, opts.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const sweep = setInterval(() => world.sweep(), opts.sweepIntervalMs ?? 1000);
  sweep.unref();
  let stopped: Promise<void> | undefined;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        clearInterval(sweep);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
    faults: () => controller.faults(),
    setFaults: (f) => controller.setFaults(f),
    counters: () => controller.counters(),
    resetCounters: () => controller.resetCounters(),
    reset: () => controller.reset(),
    createGroup: (spec) => controller.createGroup(spec),
    createSecret: (spec) => controller.createSecret(spec),
    rotateSecret: (id, fields) => controller.rotateSecret(id, fields),
    deleteSecret: (id) => controller.deleteSecret(id),
    addApiKey: (spec) => controller.addApiKey(spec),
    addTrustedProfile: (spec) => controller.addTrustedProfile(spec),
    accountId: controller.accountId,
    isApiKeyValid: (key) => controller.isApiKeyValid(key),
    credentials: () => controller.credentials(),
    mintedApiKeys: () => controller.mintedApiKeys(),
    advanceClock: (ms) => controller.advanceClock(ms),
    sweep: () => controller.sweep(),
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
