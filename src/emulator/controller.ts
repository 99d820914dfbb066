import type { Counters } from './counters.ts';
import type { CredentialInfo } from './credentials.ts';
import { ENGINES } from './engines/index.ts';
import type { TrustedProfileSpec } from './profiles.ts';
import { badRequest, notFound } from './reply.ts';
import { deleteSecret, rotateSecret } from './secrets.ts';
import {
  addSeedSecret,
  applySeed,
  type SeedData,
  type SeedSecret,
  seedSecretSchema,
} from './seed.ts';
import { currentVersion, type Secret } from './store.ts';
import { type ApiKeySpec, apiKeySpecSchema, type Faults, type FaultsUpdate } from './types.ts';
import type { World } from './world.ts';

export interface CreatedSecret {
  id: string;
  type: string;
  name: string;
  group_id: string;
  /** The first version's ID (absent for iam_credentials, whose versions are minted on read). */
  version_id: string | undefined;
}

const ADMIN_CREATOR = 'iam-ServiceId-emulator-admin';

/**
 * The emulator's state helpers, for tests in-process and for the admin API: no HTTP, no tokens,
 * no faults. Secrets are found by ID, or by name when the name is unique across types and groups.
 */
export class Controller {
  readonly #world: World;
  readonly #seed: SeedData | undefined;
  readonly #apiKeys: ApiKeySpec[];

  constructor(world: World, seed: SeedData | undefined, apiKeys: ApiKeySpec[]) {
    this.#world = world;
    this.#seed = seed;
    this.#apiKeys = apiKeys;
    this.reset();
  }

  /** Back to the start: seed data and start-up keys, no tokens or credentials, zero counters. */
  reset(): void {
    this.#world.clear();
    if (this.#seed) applySeed(this.#world, this.#seed);
    for (const k of this.#apiKeys) this.#world.iam.addUserKey(k);
  }

  counters(): Counters {
    this.#world.sweep();
    return this.#world.counters.snapshot(this.#world.credentials.activeCount);
  }

  resetCounters(): void {
    this.#world.counters.reset();
  }

  faults(): Faults {
    return this.#world.faults.current;
  }

  setFaults(f: FaultsUpdate): void {
    this.#world.faults.set(f);
  }

  clearFaults(): void {
    this.#world.faults.clear();
  }

  createGroup(spec: { name: string; description?: string; id?: string }): string {
    return this.#world.store.createGroup(spec, this.#world.clock()).id;
  }

  /** Creates a secret of any type, as the seed file describes one; returns its ID. */
  createSecret(spec: SeedSecret): string {
    return this.createSecretDetailed(spec).id;
  }

  createSecretDetailed(spec: SeedSecret): CreatedSecret {
    const s = addSeedSecret(this.#world, seedSecretSchema.parse(spec));
    return {
      id: s.id,
      type: s.type,
      name: s.name,
      group_id: s.groupId,
      version_id: currentVersion(s)?.id,
    };
  }

  /** A new version (engine fields such as `payload`; generated when omitted where possible). */
  rotateSecret(idOrName: string, fields: Record<string, unknown> = {}): string | undefined {
    const secret = this.#find(idOrName);
    const body = { ...defaultRotation(secret), ...fields };
    return rotateSecret(secret, body, {
      world: this.#world,
      createdBy: ADMIN_CREATOR,
      now: this.#world.clock(),
      strict: false,
    });
  }

  /** Deletes a secret (locks or not), revoking what it issued. */
  deleteSecret(idOrName: string): void {
    deleteSecret(this.#find(idOrName), { world: this.#world, strict: false });
  }

  addApiKey(spec: ApiKeySpec): void {
    this.#world.iam.addUserKey(apiKeySpecSchema.parse(spec));
  }

  /** A trusted profile for the cr-token grant (gone after a reset unless it is in the seed). */
  addTrustedProfile(spec: TrustedProfileSpec): { id: string; crn: string } {
    return this.#world.profiles.add(spec);
  }

  get accountId(): string {
    return this.#world.accountId;
  }

  /** The revocation probe: would `POST /identity/token` accept this key now? */
  isApiKeyValid(apiKey: string): boolean {
    return this.#world.iam.isKeyValid(apiKey);
  }

  /** Minted IAM credentials, live and ended, without their API keys. */
  credentials(): CredentialInfo[] {
    this.#world.sweep();
    return this.#world.credentials.list();
  }

  /**
   * The API keys of minted credentials, live and ended (the oldest ended ones are forgotten):
   * for in-process probes that search logs for key material. The admin API never serves them.
   */
  mintedApiKeys(): string[] {
    return this.#world.credentials.apiKeys();
  }

  /** Moves the emulator's clock forward (on top of the injected one) and sweeps expiries. */
  advanceClock(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw badRequest('the clock only moves forward');
    this.#world.advanceClock(ms);
    this.#world.sweep();
  }

  now(): number {
    return this.#world.clock();
  }

  /** Expires due credentials now instead of waiting for the periodic sweep. */
  sweep(): void {
    this.#world.sweep();
  }

  #find(idOrName: string): Secret {
    const byId = this.#world.store.secrets.get(idOrName);
    if (byId) return byId;
    const named = [...this.#world.store.secrets.values()].filter((s) => s.name === idOrName);
    if (named.length === 1) return named[0]!;
    if (named.length > 1) throw badRequest(`"${idOrName}" names several secrets: use the ID`);
    throw notFound(`secret "${idOrName}" not found`);
  }
}

/** What a rotation without fields changes, per type. */
function defaultRotation(secret: Secret): Record<string, unknown> {
  const data = currentVersion(secret)?.data ?? {};
  switch (ENGINES[secret.type].type) {
    case 'arbitrary':
      return { payload: `${String(data.payload ?? '')}-${Date.now().toString(36)}` };
    case 'kv':
      return {
        payload: {
          ...(data.payload as Record<string, unknown>),
          rotated_at: new Date().toISOString(),
        },
      };
    case 'imported_cert':
      return {
        certificate: data.certificate,
        private_key: data.private_key,
        intermediate: data.intermediate,
      };
    default:
      return {};
  }
}
