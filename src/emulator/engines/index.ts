import type { SecretType } from '../store.ts';
import { arbitraryEngine } from './arbitrary.ts';
import type { Engine } from './engine.ts';
import { iamCredentialsEngine } from './iam-credentials.ts';
import { importedCertEngine } from './imported-cert.ts';
import { kvEngine } from './kv.ts';
import { privateCertEngine } from './private-cert.ts';
import { publicCertEngine } from './public-cert.ts';
import { serviceCredentialsEngine } from './service-credentials.ts';
import { usernamePasswordEngine } from './username-password.ts';

export const ENGINES: Record<SecretType, Engine> = {
  arbitrary: arbitraryEngine,
  iam_credentials: iamCredentialsEngine,
  kv: kvEngine,
  username_password: usernamePasswordEngine,
  imported_cert: importedCertEngine,
  public_cert: publicCertEngine,
  private_cert: privateCertEngine,
  service_credentials: serviceCredentialsEngine,
};
