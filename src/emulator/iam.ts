import { ApiError } from './reply.ts';
import type { Role } from './types.ts';
import { type Clock, newId, randomString, stableUuid } from './util.ts';

const APIKEY_GRANT = 'urn:ibm:params:oauth:grant-type:apikey';
export const CR_TOKEN_GRANT = 'urn:ibm:params:oauth:grant-type:cr-token';

/** An API key IAM knows about. */
export interface IamKey {
  key: string;
  apiKeyId: string;
  serviceId: string;
  /** `iam-ServiceId-...`: the identity the key's tokens carry. */
  iamId: string;
  name: string;
  /** A Secrets Manager role: keys given to the emulator. Minted keys have none. */
  role: Role | undefined;
  /** Raw group limits (IDs or names), resolved when the key logs in. */
  groups: string[] | undefined;
  /** May delete service IDs at IAM Identity. */
  identityOperator: boolean;
  /** For keys whose life is owned elsewhere (minted credentials): asked on every use. */
  isValid?: () => boolean;
}

export interface IamToken {
  key: IamKey;
  expiresAt: number;
  /** The grant the token was issued for (shown in the Vault login's metadata). */
  grantType: string;
}

export interface TokenResponse {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
  expiration: number;
}

/**
 * IAM's token endpoint and the part of IAM Identity the operator uses: API keys, the service IDs
 * they belong to, and access tokens. Access tokens are JWT-shaped but only this emulator can
 * tell a valid one: it remembers what it issued.
 */
export class Iam {
  readonly #keys = new Map<string, IamKey>();
  readonly #serviceIds = new Map<string, { keys: Set<string>; onDelete?: () => void }>();
  readonly #tokens = new Map<string, IamToken>();
  readonly #clock: Clock;
  readonly #tokenTtlSeconds: () => number;
  readonly #issuer: string;
  readonly #accountId: string;
  readonly #computeResource: ((form: URLSearchParams) => IamKey) | undefined;

  constructor(opts: {
    clock: Clock;
    tokenTtlSeconds: () => number;
    issuer: string;
    accountId: string;
    /** The cr-token grant: the identity of a trusted profile, or an IAM-shaped error. */
    computeResource?: (form: URLSearchParams) => IamKey;
  }) {
    this.#clock = opts.clock;
    this.#computeResource = opts.computeResource;
    this.#tokenTtlSeconds = opts.tokenTtlSeconds;
    this.#issuer = opts.issuer;
    this.#accountId = opts.accountId;
  }

  clear(): void {
    this.#keys.clear();
    this.#serviceIds.clear();
    this.#tokens.clear();
  }

  addUserKey(spec: {
    key: string;
    role: Role;
    groups?: string[] | undefined;
    name?: string | undefined;
    iamIdentityOperator?: boolean | undefined;
  }): IamKey {
    const uuid = stableUuid(spec.key);
    const serviceId = `ServiceId-${uuid}`;
    const record: IamKey = {
      key: spec.key,
      apiKeyId: `ApiKey-${stableUuid(`id:${spec.key}`)}`,
      serviceId,
      iamId: `iam-${serviceId}`,
      name: spec.name ?? `emulator-${spec.role.toLowerCase()}`,
      role: spec.role,
      groups: spec.groups,
      identityOperator: spec.iamIdentityOperator ?? true,
    };
    this.#register(record);
    return record;
  }

  /** A key whose validity its owner decides (minted IAM credentials, service credentials). */
  addDynamicKey(spec: {
    key: string;
    apiKeyId: string;
    serviceId: string;
    name: string;
    isValid: () => boolean;
    onServiceIdDelete: () => void;
  }): IamKey {
    const record: IamKey = {
      key: spec.key,
      apiKeyId: spec.apiKeyId,
      serviceId: spec.serviceId,
      iamId: `iam-${spec.serviceId}`,
      name: spec.name,
      role: undefined,
      groups: undefined,
      identityOperator: false,
      isValid: spec.isValid,
    };
    this.#register(record);
    const sid = this.#serviceIds.get(spec.serviceId);
    if (sid) sid.onDelete = spec.onServiceIdDelete;
    return record;
  }

  removeKey(key: string): void {
    const record = this.#keys.get(key);
    if (!record) return;
    this.#keys.delete(key);
    const sid = this.#serviceIds.get(record.serviceId);
    sid?.keys.delete(key);
    if (sid && sid.keys.size === 0) this.#serviceIds.delete(record.serviceId);
  }

  /** The revocation probe: would IAM accept this key right now? */
  isKeyValid(key: string): boolean {
    const record = this.#keys.get(key);
    return record !== undefined && (record.isValid?.() ?? true);
  }

  /** `POST /identity/token` with the API-key or cr-token grant. Throws IAM-shaped errors. */
  exchange(form: URLSearchParams): TokenResponse {
    const grantType = form.get('grant_type');
    if (!grantType) {
      throw new ApiError(
        400,
        "Property missing or empty. Property name(s): 'grant_type'",
        'BXNIM0109E',
      );
    }
    if (grantType === CR_TOKEN_GRANT && this.#computeResource) {
      return this.#issue(this.#computeResource(form), CR_TOKEN_GRANT);
    }
    if (grantType !== APIKEY_GRANT) {
      throw new ApiError(400, `Grant type '${grantType}' is not supported.`, 'BXNIM0103E');
    }
    const apikey = form.get('apikey');
    if (!apikey) {
      throw new ApiError(
        400,
        "Property missing or empty. Property name(s): 'apikey'",
        'BXNIM0109E',
      );
    }
    const record = this.#keys.get(apikey);
    if (!record || !(record.isValid?.() ?? true)) {
      throw new ApiError(400, 'Provided API key could not be found.', 'BXNIM0415E');
    }
    return this.#issue(record, APIKEY_GRANT);
  }

  /** The token's record if it was issued here and has not expired. */
  verify(accessToken: string): IamToken | undefined {
    const t = this.#tokens.get(accessToken);
    if (!t) return undefined;
    if (t.expiresAt <= this.#clock()) {
      this.#tokens.delete(accessToken);
      return undefined;
    }
    return t;
  }

  /** IAM Identity `DELETE /v1/serviceids/{id}`: the service ID and all its API keys go. */
  deleteServiceId(serviceId: string): boolean {
    const sid = this.#serviceIds.get(serviceId);
    if (!sid) return false;
    for (const key of sid.keys) this.#keys.delete(key);
    this.#serviceIds.delete(serviceId);
    sid.onDelete?.();
    return true;
  }

  sweep(now: number): void {
    for (const [token, t] of this.#tokens) if (t.expiresAt <= now) this.#tokens.delete(token);
  }

  #register(record: IamKey): void {
    this.#keys.set(record.key, record);
    let sid = this.#serviceIds.get(record.serviceId);
    if (!sid) {
      sid = { keys: new Set() };
      this.#serviceIds.set(record.serviceId, sid);
    }
    sid.keys.add(record.key);
  }

  #issue(key: IamKey, grantType: string): TokenResponse {
    const profile = grantType === CR_TOKEN_GRANT;
    const now = this.#clock();
    const ttl = this.#tokenTtlSeconds();
    const iat = Math.floor(now / 1000);
    const exp = iat + ttl;
    const header = b64url({ kid: 'emulator', alg: 'RS256' });
    const payload = b64url({
      iam_id: key.iamId,
      id: key.iamId,
      realmid: 'iam',
      jti: newId(),
      identifier: key.serviceId,
      name: key.name,
      sub: key.serviceId,
      sub_type: profile ? 'ComputeResource' : 'ServiceId',
      authn: { sub: key.serviceId, iam_id: key.iamId, sub_type: '1', name: key.name },
      account: { valid: true, bss: this.#accountId, frozen: true },
      iat,
      exp,
      iss: `${this.#issuer}/identity`,
      grant_type: grantType,
      scope: 'ibm openid',
      client_id: 'default',
      acr: 1,
      amr: ['pwd'],
    });
    const accessToken = `${header}.${payload}.${randomString(86, BASE64URL)}`;
    this.#tokens.set(accessToken, { key, expiresAt: now + ttl * 1000, grantType });
    return {
      access_token: accessToken,
      refresh_token: randomString(120, BASE64URL),
      token_type: 'Bearer',
      expires_in: ttl,
      expiration: exp,
    };
  }
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function b64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
