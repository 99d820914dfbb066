// IAM trusted profiles for compute resources, as far as the cr-token grant needs them: a profile
// (ID, name, account, CRN) with a Secrets Manager role, trusting Kubernetes service accounts
// through links. A compute resource token is a service-account JWT, verified against the
// cluster's service-account issuer keys, its expiry and its audience before any link is looked at.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { IamKey } from './iam.ts';
import {
  type JwtClaims,
  JwtError,
  parseVerificationKeys,
  type VerificationKey,
  verifyJwt,
} from './jwt.ts';
import { ApiError } from './reply.ts';
import { ROLES } from './types.ts';
import { type Clock, stableUuid } from './util.ts';

export const DEFAULT_CR_TOKEN_AUDIENCE = 'iam';

export const trustedProfileSpecSchema = z
  .object({
    /** Default `Profile-<a stable UUID of the name>`. */
    id: z
      .string()
      .regex(/^Profile-[0-9A-Za-z-]+$/)
      .optional(),
    name: z.string().min(1),
    /** Default the emulator's own account. */
    accountId: z.string().min(1).optional(),
    role: z.enum(ROLES),
    /** Secret group IDs (or names) the profile is limited to. */
    groups: z.array(z.string().min(1)).optional(),
    links: z
      .array(
        z
          .object({
            namespace: z.string().min(1),
            serviceAccount: z.string().min(1),
            /** The cluster, named by its service-account issuer (the token's `iss`). */
            cluster: z.string().min(1).optional(),
          })
          .strict(),
      )
      .default([]),
  })
  .strict();
export type TrustedProfileSpec = z.input<typeof trustedProfileSpecSchema>;

export const crTokenConfigSchema = z
  .object({
    /** The audience a compute resource token must carry. Default `iam`. */
    audience: z.string().min(1).optional(),
    /** If set, the token's `iss` must be this. */
    issuer: z.string().min(1).optional(),
    /** Issuer keys as text: PEM public keys or certificates, or a JWKS. */
    publicKeys: z.string().min(1).optional(),
    /** A file with the same (e.g. the API server's --service-account-key-file). */
    publicKeyFile: z.string().min(1).optional(),
  })
  .strict();
export type CrTokenConfig = z.input<typeof crTokenConfigSchema>;

interface Profile {
  id: string;
  name: string;
  accountId: string;
  crn: string;
  links: { namespace: string; serviceAccount: string; cluster?: string | undefined }[];
  identity: IamKey;
}

const SA_SUBJECT = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** Reads the keys of a config: inline text and/or a file. Throws a plain Error on bad input. */
export function loadCrTokenKeys(config: CrTokenConfig): VerificationKey[] {
  const keys: VerificationKey[] = [];
  if (config.publicKeys) keys.push(...parseVerificationKeys(config.publicKeys));
  if (config.publicKeyFile) {
    keys.push(...parseVerificationKeys(readFileSync(config.publicKeyFile, 'utf8')));
  }
  return keys;
}

const missing = (names: string) =>
  new ApiError(400, `Property missing or empty. Property name(s): '${names}'`, 'BXNIM0109E');

export class TrustedProfiles {
  readonly #clock: Clock;
  readonly #defaultAccount: string;
  /** Keys and audience given at start-up (options, CLI): they survive a reset. */
  readonly #base: { keys: VerificationKey[]; audience?: string; issuer?: string };
  #keys: VerificationKey[] = [];
  #audience: string | undefined;
  #issuer: string | undefined;
  readonly #profiles: Profile[] = [];

  constructor(o: {
    clock: Clock;
    accountId: string;
    base?: { keys: VerificationKey[]; audience?: string | undefined; issuer?: string | undefined };
  }) {
    this.#clock = o.clock;
    this.#defaultAccount = o.accountId;
    this.#base = {
      keys: o.base?.keys ?? [],
      ...(o.base?.audience ? { audience: o.base.audience } : {}),
      ...(o.base?.issuer ? { issuer: o.base.issuer } : {}),
    };
    this.clear();
  }

  clear(): void {
    this.#profiles.length = 0;
    this.#keys = [...this.#base.keys];
    this.#audience = this.#base.audience;
    this.#issuer = this.#base.issuer;
  }

  /** Adds keys and (if given) sets the audience and issuer, e.g. from the seed file. */
  configure(config: CrTokenConfig): void {
    this.#keys.push(...loadCrTokenKeys(config));
    if (config.audience) this.#audience = config.audience;
    if (config.issuer) this.#issuer = config.issuer;
  }

  add(input: TrustedProfileSpec): { id: string; crn: string } {
    const spec = trustedProfileSpecSchema.parse(input);
    const id = spec.id ?? `Profile-${stableUuid(`profile:${spec.name}`)}`;
    const accountId = spec.accountId ?? this.#defaultAccount;
    const profile: Profile = {
      id,
      name: spec.name,
      accountId,
      crn: `crn:v1:bluemix:public:iam-identity::a/${accountId}::profile:${id}`,
      links: spec.links,
      identity: {
        key: `profile:${id}`,
        apiKeyId: '',
        serviceId: id,
        iamId: `iam-${id}`,
        name: spec.name,
        role: spec.role,
        groups: spec.groups,
        identityOperator: false,
      },
    };
    this.#profiles.push(profile);
    return { id, crn: profile.crn };
  }

  /**
   * The cr-token grant: the profile the form names, if the compute resource token is valid and
   * its service account is linked to it. Throws IAM-shaped errors.
   */
  exchange(form: URLSearchParams): IamKey {
    const crToken = form.get('cr_token');
    if (!crToken) throw missing('cr_token');
    const profile = this.#find(form);
    let claims: JwtClaims;
    try {
      claims = verifyJwt(crToken, {
        keys: this.#keys,
        now: this.#clock(),
        audience: this.#audience ?? DEFAULT_CR_TOKEN_AUDIENCE,
        ...(this.#issuer ? { issuer: this.#issuer } : {}),
      });
    } catch (err) {
      if (!(err instanceof JwtError)) throw err;
      throw new ApiError(
        400,
        `Provided compute resource token is not valid: ${err.message}.`,
        'BXNIM0407E',
      );
    }
    const subject = typeof claims.sub === 'string' ? SA_SUBJECT.exec(claims.sub) : null;
    if (!subject) {
      throw new ApiError(
        400,
        'Provided compute resource token is not valid: its subject is not a Kubernetes service account.',
        'BXNIM0407E',
      );
    }
    const [, namespace, serviceAccount] = subject as unknown as [string, string, string];
    const linked = profile.links.some(
      (l) =>
        l.namespace === namespace &&
        l.serviceAccount === serviceAccount &&
        (l.cluster === undefined || l.cluster === claims.iss),
    );
    if (!linked) {
      throw new ApiError(
        401,
        `The compute resource (service account ${namespace}/${serviceAccount}) is not trusted ` +
          `by trusted profile ${profile.id}: no link matches it.`,
        'BXNIM0446E',
      );
    }
    return profile.identity;
  }

  #find(form: URLSearchParams): Profile {
    const id = form.get('profile_id');
    const name = form.get('profile_name');
    const crn = form.get('profile_crn');
    let found: Profile | undefined;
    if (id) found = this.#profiles.find((p) => p.id === id);
    else if (crn) found = this.#profiles.find((p) => p.crn === crn);
    else if (name) {
      const account = form.get('account');
      if (!account) throw missing('account');
      found = this.#profiles.find((p) => p.name === name && p.accountId === account);
    } else throw missing('profile_id, profile_name, profile_crn');
    if (!found) {
      throw new ApiError(
        400,
        `Trusted profile ${id ?? crn ?? name} could not be found.`,
        'BXNIM0445E',
      );
    }
    return found;
  }
}
