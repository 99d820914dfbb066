import { fakePem, randomSerial } from './pem.ts';
import { badRequest, notFound } from './reply.ts';
import { parseDurationSeconds, redact, rfc3339, sha256Hex } from './util.ts';

/** The configuration kinds each certificate engine has (the `config/{kind}` path segment). */
export const CONFIG_KINDS = {
  public_cert: ['certificate_authorities', 'dns_providers'],
  private_cert: [
    'root_certificate_authorities',
    'intermediate_certificate_authorities',
    'certificate_templates',
  ],
} as const;
export type ConfigEngine = keyof typeof CONFIG_KINDS;

export interface ConfigEntry {
  name: string;
  type: string;
  config: Record<string, unknown>;
}

/** Up to 10 of each kind, as documented. */
const MAX_PER_KIND = 10;

const DURATION_FIELDS = ['max_ttl', 'ttl', 'crl_expiry'];

/** Secrets engine configuration: the iam_credentials root key and the certificate engines' entries. */
export class EngineConfigs {
  /** SHA-256 of the iam_credentials engine's API key; the engine works only when it is set. */
  iamApiKeyHash: string | undefined;
  readonly #entries = new Map<string, Map<string, ConfigEntry>>();

  constructor(initialIamKey: string | undefined) {
    this.iamApiKeyHash = initialIamKey === undefined ? undefined : sha256Hex(initialIamKey);
  }

  clear(initialIamKey: string | undefined): void {
    this.iamApiKeyHash = initialIamKey === undefined ? undefined : sha256Hex(initialIamKey);
    this.#entries.clear();
  }

  setIamApiKey(apiKey: string): void {
    this.iamApiKeyHash = sha256Hex(apiKey);
  }

  #kind(engine: string, kind: string): Map<string, ConfigEntry> {
    const key = `${engine}/${kind}`;
    let m = this.#entries.get(key);
    if (!m) {
      m = new Map();
      this.#entries.set(key, m);
    }
    return m;
  }

  /** Adds or replaces an entry; returns what the API echoes (secrets redacted, durations in s). */
  put(engine: ConfigEngine, kind: string, entry: ConfigEntry, now: number): ConfigEntry {
    const entries = this.#kind(engine, kind);
    if (!entries.has(entry.name) && entries.size >= MAX_PER_KIND) {
      throw badRequest(`at most ${MAX_PER_KIND} ${kind} can be configured`);
    }
    let config = normalize(entry.config);
    if (
      kind === 'root_certificate_authorities' ||
      kind === 'intermediate_certificate_authorities'
    ) {
      // What the caller set wins over what the service computes.
      config = { ...caDetails(config, now), ...config };
    }
    const stored = { name: entry.name, type: entry.type, config };
    entries.set(entry.name, stored);
    return { name: stored.name, type: stored.type, config: redactSecrets(stored.config) };
  }

  get(engine: ConfigEngine, kind: string, name: string): ConfigEntry | undefined {
    const e = this.#kind(engine, kind).get(name);
    return e && { name: e.name, type: e.type, config: redactSecrets(e.config) };
  }

  list(engine: ConfigEngine, kind: string): ConfigEntry[] {
    return [...this.#kind(engine, kind).values()].map((e) => ({
      name: e.name,
      type: e.type,
      config: redactSecrets(e.config),
    }));
  }

  has(engine: ConfigEngine, kind: string, name: string): boolean {
    return this.#kind(engine, kind).has(name);
  }

  delete(engine: ConfigEngine, kind: string, name: string): void {
    if (!this.#kind(engine, kind).delete(name)) throw notFound(`configuration "${name}" not found`);
  }
}

function normalize(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...config };
  for (const f of DURATION_FIELDS) {
    if (f in out) {
      const seconds = parseDurationSeconds(out[f]);
      if (seconds === undefined) throw badRequest(`"${f}" must be a duration such as 8760h`);
      out[f] = seconds;
    }
  }
  return out;
}

/** The fields the service computes when it creates a private CA. */
function caDetails(config: Record<string, unknown>, now: number): Record<string, unknown> {
  const ttl =
    typeof config.ttl === 'number'
      ? config.ttl
      : ((config.max_ttl as number | undefined) ?? 157788000);
  const expiresMs = now + ttl * 1000;
  const certificate = fakePem('CERTIFICATE');
  return {
    common_name: config.common_name ?? 'example.com',
    country: [],
    crl_disable: false,
    crl_distribution_points_encoded: false,
    crl_expiry: 259200,
    data: {
      certificate,
      expiration: Math.floor(expiresMs / 1000),
      issuing_ca: certificate,
      serial_number: randomSerial(),
    },
    exclude_cn_from_sans: false,
    expiration_date: rfc3339(expiresMs),
    format: 'pem',
    issuing_certificates_urls_encoded: false,
    key_bits: 2048,
    key_type: 'rsa',
    locality: [],
    max_path_length: -1,
    max_ttl: ttl,
    organization: [],
    other_sans: [],
    ou: [],
    permitted_dns_domains: [],
    postal_code: [],
    private_key_format: 'der',
    province: [],
    status: 'configured',
    street_address: [],
    ttl,
  };
}

const SECRET_FIELDS = ['private_key', 'cis_apikey', 'api_key'];

function redactSecrets(config: Record<string, unknown>): Record<string, unknown> {
  const out = { ...config };
  for (const f of SECRET_FIELDS) {
    const v = out[f];
    if (typeof v === 'string') out[f] = redact(v);
  }
  return out;
}
