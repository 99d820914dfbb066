import type { CertificateInfo } from '../pem.ts';
import { currentVersion, type Secret } from '../store.ts';
import { versionBase } from './engine.ts';

/** Per-version fields every certificate type records, from the certificate's details. */
export function certFields(info: CertificateInfo): Record<string, unknown> {
  return {
    algorithm: info.algorithm,
    common_name: info.common_name,
    expiration_date: info.validity.not_after,
    issuer: info.issuer,
    key_algorithm: info.key_algorithm,
    serial_number: info.serial_number,
    validity: info.validity,
  };
}

/** The certificate details of the current version, as top-level secret fields. */
export function currentCertFields(secret: Secret): Record<string, unknown> {
  const f = currentVersion(secret)?.fields ?? {};
  return {
    algorithm: f.algorithm,
    common_name: f.common_name,
    issuer: f.issuer,
    key_algorithm: f.key_algorithm,
    serial_number: f.serial_number,
    validity: f.validity,
  };
}

export function certVersions(secret: Secret): Record<string, unknown>[] {
  return secret.versions.map((v) => ({
    ...versionBase(v),
    expiration_date: v.fields.expiration_date,
    serial_number: v.fields.serial_number,
    validity: v.fields.validity,
  }));
}
