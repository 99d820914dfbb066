/** How a credential stopped being valid before its TTL. */
export type RevocationRoute = 'secretData' | 'serviceId' | 'leaseRevoke' | 'secretDelete';

/** The JSON the admin API's `GET /__emulator/counters` returns. */
export interface Counters {
  /** `"<METHOD> <route>"` -> HTTP status -> count. */
  requests: Record<string, Record<string, number>>;
  /** Every `POST /identity/token` call that reached the handler. */
  iamTokenExchanges: number;
  iamTokenExchangeFailures: number;
  /** Successful Vault logins. */
  logins: number;
  loginFailures: number;
  credentialsMinted: number;
  /** Credentials handed out again because the secret has `reuse_api_key`. */
  credentialsReused: number;
  credentialsRevoked: { total: number; byRoute: Record<RevocationRoute, number> };
  credentialsExpired: number;
  activeCredentials: number;
  faults: { delayed: number; errors: number; rateLimited: number };
}

export class CounterSet {
  #requests = new Map<string, Map<number, number>>();
  iamTokenExchanges = 0;
  iamTokenExchangeFailures = 0;
  logins = 0;
  loginFailures = 0;
  credentialsMinted = 0;
  credentialsReused = 0;
  credentialsExpired = 0;
  revoked: Record<RevocationRoute, number> = emptyRevoked();
  faults = { delayed: 0, errors: 0, rateLimited: 0 };

  request(key: string, status: number): void {
    let byStatus = this.#requests.get(key);
    if (!byStatus) {
      byStatus = new Map();
      this.#requests.set(key, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  revokedBy(route: RevocationRoute): void {
    this.revoked[route]++;
  }

  reset(): void {
    this.#requests.clear();
    this.iamTokenExchanges = 0;
    this.iamTokenExchangeFailures = 0;
    this.logins = 0;
    this.loginFailures = 0;
    this.credentialsMinted = 0;
    this.credentialsReused = 0;
    this.credentialsExpired = 0;
    this.revoked = emptyRevoked();
    this.faults = { delayed: 0, errors: 0, rateLimited: 0 };
  }

  snapshot(activeCredentials: number): Counters {
    const requests: Counters['requests'] = {};
    for (const [key, byStatus] of this.#requests) {
      const entry: Record<string, number> = {};
      for (const [status, n] of byStatus) entry[String(status)] = n;
      requests[key] = entry;
    }
    const byRoute = { ...this.revoked };
    return {
      requests,
      iamTokenExchanges: this.iamTokenExchanges,
      iamTokenExchangeFailures: this.iamTokenExchangeFailures,
      logins: this.logins,
      loginFailures: this.loginFailures,
      credentialsMinted: this.credentialsMinted,
      credentialsReused: this.credentialsReused,
      credentialsRevoked: {
        total: Object.values(byRoute).reduce((a, b) => a + b, 0),
        byRoute,
      },
      credentialsExpired: this.credentialsExpired,
      activeCredentials,
      faults: { ...this.faults },
    };
  }
}

function emptyRevoked(): Record<RevocationRoute, number> {
  return { secretData: 0, serviceId: 0, leaseRevoke: 0, secretDelete: 0 };
}

/** Vault API requests by kind, summed over statuses (what a test or bench compares). */
export interface RequestKinds {
  /** `GET .../secrets/{id}`: value reads (iam_credentials reads included). */
  valueReads: number;
  /** `GET .../secrets` (and `.../roles`): list calls. */
  lists: number;
  /** `GET .../secrets/{id}/metadata`. */
  metadata: number;
  /** Every request to the Vault API (logins included). */
  vault: number;
}

export function requestKinds(counters: Pick<Counters, 'requests'>): RequestKinds {
  const out: RequestKinds = { valueReads: 0, lists: 0, metadata: 0, vault: 0 };
  for (const [key, byStatus] of Object.entries(counters.requests)) {
    const n = Object.values(byStatus).reduce((a, b) => a + b, 0);
    if (!key.includes(' /v1/') || key.includes('/v1/serviceids')) continue;
    out.vault += n;
    if (!key.startsWith('GET ')) continue;
    if (/\/(secrets|roles)(\/groups\/\{group\})?$/.test(key)) out.lists += n;
    else if (key.endsWith('/metadata')) out.metadata += n;
    else if (/\/(secrets|roles)(\/groups\/\{group\})?\/\{id\}$/.test(key)) out.valueReads += n;
  }
  return out;
}
