import { z } from 'zod';
import { issueCertificate } from '../pem.ts';
import { badRequest } from '../reply.ts';
import { currentVersion, type Secret } from '../store.ts';
import { parseDurationSeconds } from '../util.ts';
import { certFields, certVersions, currentCertFields } from './certificates.ts';
import { type Engine, type EngineContext, parseBody } from './engine.ts';

const DEFAULT_TTL_SECONDS = 30 * 86400;

const names = z.union([z.array(z.string()), z.string()]).optional();

const createSchema = z.object({
  certificate_template: z.string().min(1),
  common_name: z.string().min(1),
  alt_names: names,
  ip_sans: z.string().optional(),
  uri_sans: z.string().optional(),
  other_sans: names,
  ttl: z.union([z.string(), z.number()]).optional(),
  format: z.enum(['pem', 'pem_bundle']).optional(),
  rotation: z
    .object({
      auto_rotate: z.boolean().optional(),
      interval: z.number().int().min(1).optional(),
      unit: z.enum(['day', 'month']).optional(),
    })
    .optional(),
  auto_rotate: z.boolean().optional(),
  interval: z.number().int().min(1).optional(),
  unit: z.enum(['day', 'month']).optional(),
});

const list = (v: string[] | string | undefined): string[] =>
  v === undefined
    ? []
    : Array.isArray(v)
      ? v
      : v
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);

function issue(secret: Pick<Secret, 'attrs'>, ctx: EngineContext) {
  const a = secret.attrs;
  const issued = issueCertificate({
    commonName: a.common_name as string,
    altNames: a.alt_names as string[],
    issuer: a.issuer as string,
    ttlSeconds: a.ttl_seconds as number,
    now: ctx.now,
  });
  return {
    data: {
      certificate: issued.certificate,
      private_key: issued.private_key,
      issuing_ca: issued.intermediate,
      ca_chain: [issued.intermediate],
    },
    fields: certFields(issued.info),
    expirationDate: issued.info.validity.not_after,
  };
}

/** Private certificates, issued by the instance's own CA through a certificate template. */
export const privateCertEngine: Engine = {
  type: 'private_cert',
  userExpiration: false,
  create(body, ctx) {
    const b = parseBody(createSchema, body);
    const template = ctx.world.configs.get(
      'private_cert',
      'certificate_templates',
      b.certificate_template,
    );
    if (ctx.strict && !template) {
      throw badRequest(`certificate template "${b.certificate_template}" not found`);
    }
    const ttl = b.ttl === undefined ? DEFAULT_TTL_SECONDS : parseDurationSeconds(b.ttl);
    if (ttl === undefined || ttl <= 0) throw badRequest('ttl must be a duration such as 12h');
    const maxTtl = template?.config.max_ttl;
    if (typeof maxTtl === 'number' && ttl > maxTtl) {
      throw badRequest("ttl exceeds the certificate template's max_ttl");
    }
    const attrs = {
      certificate_template: b.certificate_template,
      common_name: b.common_name,
      alt_names: list(b.alt_names),
      ttl_seconds: ttl,
      format: b.format ?? 'pem',
      issuer:
        (template?.config.certificate_authority as string | undefined) ?? 'Emulated private CA',
      rotation: {
        auto_rotate: b.rotation?.auto_rotate ?? b.auto_rotate ?? false,
        interval: b.rotation?.interval ?? b.interval,
        unit: b.rotation?.unit ?? b.unit,
      },
    };
    return { attrs, ...issue({ attrs }, ctx) };
  },
  rotate(secret, _body, ctx) {
    return issue(secret, ctx);
  },
  decorate(secret, view, out) {
    const a = secret.attrs;
    Object.assign(out, currentCertFields(secret), {
      alt_names: a.alt_names,
      certificate_template: a.certificate_template,
      rotation: a.rotation,
    });
    if (view === 'metadata') return;
    if (view === 'value') out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = certVersions(secret);
  },
};
