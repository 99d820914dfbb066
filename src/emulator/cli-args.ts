import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { EmulatorOptions } from './options.ts';
import type { Faults } from './types.ts';

export const USAGE = `Usage: npm run emulator -- --port <p> --api-key <key> [options]

Secrets Manager emulator: the Vault API, IAM token exchange and IAM Identity on 127.0.0.1:<p>.

  --port <p>                 port to listen on (0 = a free port)            [default 8200]
  --host <h>                 address to listen on                           [default 127.0.0.1]
  --api-key <key>            an IAM API key with the Manager role (repeatable)
  --seed <file>              preload groups, secrets and keys (JSON or YAML)
  --lease-ids                hand out lease IDs for iam_credentials, as generic Vault does
  --latency-ms <n>           added latency on every response
  --error-rate <0..1>        fraction of requests that fail with --error-status
  --error-status <code>      status of injected errors                      [default 503]
  --rate-limit-rate <0..1>   fraction of requests answered 429
  --retry-after <s|date>     Retry-After on injected 429s                   [default 1]
  --min-credential-ttl <s>   smallest iam_credentials TTL accepted          [default 60]
  --iam-token-ttl <s>        IAM access token lifetime                      [default 3600]
  --vault-token-ttl <s>      Vault token lifetime                           [default 3600]
  --cr-token-keys <file>     service-account issuer public keys (PEM or JWKS) that the cr-token
                             grant verifies compute resource tokens with (repeatable)
  --cr-token-audience <aud>  audience a compute resource token must carry   [default iam]
  --cr-token-issuer <iss>    issuer a compute resource token must carry     [default any]
  --help                     this text

Admin API (loopback only): GET /__emulator/counters, PUT /__emulator/faults, POST /__emulator/reset,
POST /__emulator/secrets, POST /__emulator/api-keys, POST /__emulator/clock.`;

const int = (min: number) => z.coerce.number().int().min(min);
const rate = z.coerce.number().min(0).max(1);

const argsSchema = z.object({
  port: int(0).max(65535).default(8200),
  host: z.string().min(1).default('127.0.0.1'),
  'api-key': z.array(z.string().min(1)).default([]),
  seed: z.string().min(1).optional(),
  'lease-ids': z.boolean().default(false),
  'latency-ms': int(0).optional(),
  'error-rate': rate.optional(),
  'error-status': int(400).max(599).optional(),
  'rate-limit-rate': rate.optional(),
  'retry-after': z.string().min(1).optional(),
  'min-credential-ttl': int(1).optional(),
  'iam-token-ttl': int(1).optional(),
  'vault-token-ttl': int(1).optional(),
  'cr-token-keys': z.array(z.string().min(1)).default([]),
  'cr-token-audience': z.string().min(1).optional(),
  'cr-token-issuer': z.string().min(1).optional(),
  help: z.boolean().default(false),
});

export interface CliConfig {
  help: boolean;
  seedFile: string | undefined;
  options: EmulatorOptions;
}

export class CliError extends Error {
  readonly code = 'InvalidArguments';
}

export function parseCliArgs(argv: string[]): CliConfig {
  let values: Record<string, unknown>;
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        'api-key': { type: 'string', multiple: true },
        seed: { type: 'string' },
        'lease-ids': { type: 'boolean' },
        'latency-ms': { type: 'string' },
        'error-rate': { type: 'string' },
        'error-status': { type: 'string' },
        'rate-limit-rate': { type: 'string' },
        'retry-after': { type: 'string' },
        'min-credential-ttl': { type: 'string' },
        'iam-token-ttl': { type: 'string' },
        'vault-token-ttl': { type: 'string' },
        'cr-token-keys': { type: 'string', multiple: true },
        'cr-token-audience': { type: 'string' },
        'cr-token-issuer': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values;
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  const parsed = argsSchema.safeParse(values);
  if (!parsed.success) {
    throw new CliError(
      parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '),
    );
  }
  const a = parsed.data;
  const faults: Partial<Faults> = {};
  if (a['latency-ms'] !== undefined) faults.latencyMs = a['latency-ms'];
  if (a['error-rate'] !== undefined) faults.errorRate = a['error-rate'];
  if (a['error-status'] !== undefined) faults.errorStatus = a['error-status'];
  if (a['rate-limit-rate'] !== undefined) faults.rateLimitRate = a['rate-limit-rate'];
  if (a['retry-after'] !== undefined) {
    const n = Number(a['retry-after']);
    faults.retryAfter = Number.isInteger(n) && n >= 0 ? n : a['retry-after'];
  }
  const options: EmulatorOptions = {
    port: a.port,
    host: a.host,
    apiKeys: a['api-key'].map((key) => ({ key, role: 'Manager' as const })),
    leaseIds: a['lease-ids'],
    faults,
  };
  if (a['min-credential-ttl'] !== undefined)
    options.minCredentialTtlSeconds = a['min-credential-ttl'];
  if (a['iam-token-ttl'] !== undefined) options.iamTokenTtlSeconds = a['iam-token-ttl'];
  if (a['vault-token-ttl'] !== undefined) options.vaultTokenTtlSeconds = a['vault-token-ttl'];
  const crKeys = a['cr-token-keys'];
  if (crKeys.length > 0 || a['cr-token-audience'] || a['cr-token-issuer']) {
    const keys: string[] = [];
    for (const file of crKeys) {
      try {
        keys.push(readFileSync(file, 'utf8'));
      } catch (err) {
        throw new CliError(`--cr-token-keys ${file}: ${(err as Error).message}`);
      }
    }
    options.computeResourceTokens = {
      ...(keys.length > 0 ? { publicKeys: keys.join('\n') } : {}),
      ...(a['cr-token-audience'] ? { audience: a['cr-token-audience'] } : {}),
      ...(a['cr-token-issuer'] ? { issuer: a['cr-token-issuer'] } : {}),
    };
  }
  return { help: a.help, seedFile: a.seed, options };
}
