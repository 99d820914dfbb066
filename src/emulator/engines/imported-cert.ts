import { z } from 'zod';
import { certificateInfo } from '../pem.ts';
import { currentVersion } from '../store.ts';
import { certFields, certVersions, currentCertFields } from './certificates.ts';
import { type Engine, parseBody } from './engine.ts';

const certSchema = z.object({
  certificate: z.string().min(1),
  private_key: z.string().min(1).optional(),
  intermediate: z.string().min(1).optional(),
});

function importCert(body: Record<string, unknown>, now: number) {
  const b = parseBody(certSchema, body);
  const info = certificateInfo(b.certificate, now);
  const data: Record<string, unknown> = { certificate: b.certificate };
  if (b.intermediate !== undefined) data.intermediate = b.intermediate;
  if (b.private_key !== undefined) data.private_key = b.private_key;
  return {
    data,
    fields: {
      ...certFields(info),
      intermediate_included: b.intermediate !== undefined,
      private_key_included: b.private_key !== undefined,
    },
    expirationDate: info.validity.not_after,
  };
}

/** Imported certificates: what the caller uploads, with its details read from the PEM. */
export const importedCertEngine: Engine = {
  type: 'imported_cert',
  userExpiration: false,
  create(body, ctx) {
    return { attrs: {}, ...importCert(body, ctx.now) };
  },
  rotate(_secret, body, ctx) {
    return importCert(body, ctx.now);
  },
  decorate(secret, view, out) {
    const f = currentVersion(secret)?.fields ?? {};
    Object.assign(out, currentCertFields(secret), {
      intermediate_included: f.intermediate_included,
      private_key_included: f.private_key_included,
    });
    if (view === 'metadata') return;
    // The documented create response carries no secret_data; a read does.
    if (view === 'value') out.secret_data = currentVersion(secret)?.data ?? {};
    out.versions = certVersions(secret);
  },
};
