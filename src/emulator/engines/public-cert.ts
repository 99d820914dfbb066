import { z } from 'zod';
import { issueCertificate } from '../pem.ts';
import { badRequest } from '../reply.ts';
import { currentVersion, type Secret } from '../store.ts';
import { rfc3339 } from '../util.ts';
import { certFields, certVersions, currentCertFields } from './certificates.ts';
import { type Engine, type EngineContext, parseBody } from './engine.ts';

/** Let's Encrypt certificates last 90 days. */
const PUBLIC_CERT_TTL_SECONDS = 90 * 86400;

const createSchema = z.object({
  ca: z.string().min(1),
  dns: z.string().min(1),
  common_name: z.string().min(1),
  alt_names: z.array(z.string()).optional(),
  bundle_certs: z.boolean().optional(),
  key_algorithm: z.enum(['RSA2048', 'RSA4096', 'EC256', 'EC384']).optional(),
  rotation: z
    .object({ auto_rotate: z.boolean().optional(), rotate_keys: z.boolean().optional() })
    .optional(),
});

function order(secret: Pick<Secret, 'attrs'>, ctx: EngineContext, previousKey?: string) {
  const a = secret.attrs;
  const issued = issueCertificate({
    commonName: a.common_name as string,
    altNames: a.alt_names as string[],
    issuer: a.issuer as string,
    ttlSeconds: PUBLIC_CERT_TTL_SECONDS,
    now: ctx.now,
  });
  const data: Record<string, unknown> = {
    certificate: issued.certificate,
    private_key: previousKey ?? issued.private_key,
  };
  if (a.bundle_certs) data.intermediate = issued.intermediate;
  return {
    data,
    fields: {
      ...certFields(issued.info),
      key_algorithm: a.key_algorithm,
      ordered_on: rfc3339(ctx.now),
    },
    expirationDate: issued.info.validity.not_after,
  };
}

/**
 * Public certificates. The real service orders them from the configured ACME CA through the DNS
 * provider, which takes minutes; the emulator issues at once (state Active).
 */
export const publicCertEngine: Engine = {
  type: 'public_cert',
  userExpiration: false,
  create(body, ctx) {
    const b = parseBody(createSchema, body);
    const configs = ctx.world.configs;
    if (ctx.strict && !configs.has('public_cert', 'certificate_authorities', b.ca)) {
      throw badRequest(`certificate authority configuration "${b.ca}" not found`);
    }
    if (ctx.strict && !configs.has('public_cert', 'dns_providers', b.dns)) {
      throw badRequest(`DNS provider configuration "${b.dns}" not found`);
    }
    const caType = configs.get('public_cert', 'certificate_authorities', b.ca)?.type;
    const attrs = {
      ca: b.ca,
      dns: b.dns,
      common_name: b.common_name,
      alt_names: b.alt_names ?? [],
      bundle_certs: b.bundle_certs ?? true,
      key_algorithm: b.key_algorithm ?? 'RSA2048',
      rotation: {
        auto_rotate: b.rotation?.auto_rotate ?? false,
        rotate_keys: b.rotation?.rotate_keys ?? false,
      },
      issuer:
        caType === 'letsencrypt-stage'
          ? "(STAGING) Emulated Let's Encrypt"
          : "Emulated Let's Encrypt",
    };
    return { attrs, ...order({ attrs }, ctx) };
  },
  rotate(secret, body, ctx) {
    const rotateKeys =
      (body.rotate_keys ?? (secret.attrs.rotation as { rotate_keys: boolean }).rotate_keys) ===
      true;
    const key = rotateKeys
      ? undefined
      : (currentVersion(secret)?.data?.private_key as string | undefined);
    return order(secret, ctx, key);
  },
  decorate(secret, view, out) {
    const a = secret.attrs;
    const f = currentVersion(secret)?.fields ?? {};
    Object.assign(out, currentCertFields(secret), {
      alt_names: a.alt_names,
      bundle_certs: a.bundle_certs,
      ca: a.ca,
      dns: a.dns,
      intermediate_included: a.bundle_certs,
      private_key_included: true,
      rotation: a.rotation,
      issuance_info: {
        auto_rotated: currentVersion(secret)?.autoRotated ?? false,
        ordered_on: f.ordered_on,
        state: 1,
        state_description: 'Active',
      },
    });
    if (view === 'metadata') return;
    if (view === 'value') out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = certVersions(secret);
  },
};
