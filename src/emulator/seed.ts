import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { CONFIG_KINDS } from './engine-config.ts';
import { crTokenConfigSchema, trustedProfileSpecSchema } from './profiles.ts';
import { createSecret } from './secrets.ts';
import { SECRET_TYPES, type Secret } from './store.ts';
import { apiKeySpecSchema } from './types.ts';
import type { World } from './world.ts';

/**
 * A secret to preload: the documented create request of its type plus `type`, an optional
 * `group` (name or ID; omitted = default group) and an optional fixed `id`.
 */
export const seedSecretSchema = z
  .object({
    type: z.enum(SECRET_TYPES),
    name: z.string().min(1),
    id: z.string().min(1).optional(),
    group: z.string().min(1).optional(),
  })
  .passthrough();
export type SeedSecret = z.infer<typeof seedSecretSchema>;

const configEntrySchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
  config: z.record(z.string(), z.unknown()).default({}),
});

export const seedDataSchema = z
  .object({
    groups: z
      .array(
        z.object({
          name: z.string().min(1),
          description: z.string().optional(),
          id: z.string().optional(),
        }),
      )
      .default([]),
    secrets: z.array(seedSecretSchema).default([]),
    apiKeys: z.array(apiKeySpecSchema).default([]),
    /** IAM trusted profiles that the cr-token grant can become, with their links. */
    trustedProfiles: z.array(trustedProfileSpecSchema).default([]),
    /** How compute resource tokens are verified (keys, audience, issuer). */
    computeResourceTokens: crTokenConfigSchema.optional(),
    engines: z
      .object({
        iam_credentials: z.object({ api_key: z.string().min(1) }).optional(),
        public_cert: z.record(z.string(), z.array(configEntrySchema)).optional(),
        private_cert: z.record(z.string(), z.array(configEntrySchema)).optional(),
      })
      .default({}),
  })
  .strict();
export type SeedData = z.input<typeof seedDataSchema>;

export class SeedError extends Error {
  readonly code = 'InvalidSeed';
  constructor(message: string) {
    super(message);
    this.name = 'SeedError';
  }
}

/** Parses seed text; YAML is a superset of JSON, so one parser reads both. */
export function parseSeed(text: string, source = 'seed'): z.output<typeof seedDataSchema> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new SeedError(`${source}: not valid YAML or JSON (${(err as Error).message})`);
  }
  const result = seedDataSchema.safeParse(raw ?? {});
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new SeedError(`${source}: ${issues.join('; ')}`);
  }
  return result.data;
}

export async function loadSeedFile(path: string): Promise<z.output<typeof seedDataSchema>> {
  return parseSeed(await readFile(path, 'utf8'), path);
}

const SEED_CREATOR = 'iam-ServiceId-emulator-seed';

/** Adds one seed secret to the world; engine configuration references are not checked. */
export function addSeedSecret(world: World, spec: SeedSecret): Secret {
  const { type, id, group, ...body } = spec;
  const groupId = world.resolveGroupOrDefault(group);
  if (groupId === undefined) throw new SeedError(`secret "${spec.name}": unknown group "${group}"`);
  return createSecret(
    type,
    groupId,
    body,
    { world, createdBy: SEED_CREATOR, now: world.clock(), strict: false },
    id,
  );
}

/** Loads validated seed data into an emptied world. */
export function applySeed(world: World, seed: SeedData): void {
  const data = seedDataSchema.parse(seed);
  const now = world.clock();
  for (const g of data.groups) world.store.createGroup(g, now);
  if (data.engines.iam_credentials)
    world.configs.setIamApiKey(data.engines.iam_credentials.api_key);
  for (const engine of ['public_cert', 'private_cert'] as const) {
    for (const [kind, entries] of Object.entries(data.engines[engine] ?? {})) {
      if (!(CONFIG_KINDS[engine] as readonly string[]).includes(kind)) {
        throw new SeedError(`engines.${engine}: unknown configuration kind "${kind}"`);
      }
      for (const e of entries) world.configs.put(engine, kind, e, now);
    }
  }
  for (const s of data.secrets) {
    try {
      addSeedSecret(world, s);
    } catch (err) {
      if (err instanceof SeedError) throw err;
      throw new SeedError(`secret "${s.name}" (${s.type}): ${(err as Error).message}`);
    }
  }
  for (const k of data.apiKeys) world.iam.addUserKey(k);
  if (data.computeResourceTokens) {
    try {
      world.profiles.configure(data.computeResourceTokens);
    } catch (err) {
      throw new SeedError(`computeResourceTokens: ${(err as Error).message}`);
    }
  }
  for (const p of data.trustedProfiles) world.profiles.add(p);
}
