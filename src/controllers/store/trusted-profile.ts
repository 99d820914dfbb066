// Where a trusted-profile store's compute resource token comes from: a TokenRequest for a
// service account (`POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`), or a token file
// projected into the operator's pod. Either is asked anew for every IAM exchange, and neither
// token is ever kept, logged or put in a message.
import { readFile } from 'node:fs/promises';
import type { TrustedProfileAuth } from '../../api/index.ts';
import { describeError } from '../../runtime/errors.ts';
import { isApiError } from '../../runtime/kube.ts';
import type { CoreApi } from '../../runtime/kubeapi.ts';
import {
  CR_TOKEN_OPERATION,
  SecretsManagerError,
  type TrustedProfileCredential,
  type TrustedProfileRef,
} from '../../secretsmanager/index.ts';
import type { StoreKey } from './key.ts';

/** What a TokenRequest needs of the core API (tests may hand in a fake). */
export type TokenRequestApi = Pick<CoreApi, 'createNamespacedServiceAccountToken'>;

function crTokenError(message: string): SecretsManagerError {
  return new SecretsManagerError('Unauthenticated', `${CR_TOKEN_OPERATION}: ${message}`, {
    operation: CR_TOKEN_OPERATION,
  });
}

/** A new short-lived token of the service account for each call. */
export function serviceAccountTokenSource(
  api: TokenRequestApi,
  ref: { namespace: string; name: string; audiences: string[]; expirationSeconds: number },
): (signal?: AbortSignal) => Promise<string> {
  const who = `service account ${ref.namespace}/${ref.name}`;
  return async () => {
    let token: string | undefined;
    try {
      const res = await api.createNamespacedServiceAccountToken({
        namespace: ref.namespace,
        name: ref.name,
        body: {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { audiences: ref.audiences, expirationSeconds: ref.expirationSeconds },
        },
      });
      token = res.status?.token;
    } catch (err) {
      if (isApiError(err, 404)) throw crTokenError(`the ${who} does not exist`);
      if (isApiError(err, 403)) {
        throw crTokenError(
          `the operator may not request a token of the ${who} (it needs serviceaccounts/token ` +
            'create; the chart grants it with rbac.tokenRequest=true)',
        );
      }
      throw crTokenError(`cannot request a token of the ${who}: ${describeError(err).message}`);
    }
    if (!token) throw crTokenError(`the API server returned no token for the ${who}`);
    return token;
  };
}

/** The projected token file, read for each call (the kubelet replaces it as it rotates). */
export function fileTokenSource(
  path: string,
  read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8'),
): (signal?: AbortSignal) => Promise<string> {
  return async () => {
    let text: string;
    try {
      text = await read(path);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      throw crTokenError(
        `cannot read the token file ${path}${typeof code === 'string' ? ` (${code})` : ''}; ` +
          "is the chart's projectedToken volume mounted there?",
      );
    }
    return text.trim();
  };
}

export type TrustedProfileResult =
  | { ok: true; credential: TrustedProfileCredential; describe: string }
  | { ok: false; message: string };

/**
 * The credential of a store's `auth.trustedProfile`. A SecretStore may only use a service
 * account of its own namespace; a ClusterSecretStore names one, or the operator's token file.
 */
export function trustedProfileCredential(
  key: StoreKey,
  tp: TrustedProfileAuth,
  tokens: TokenRequestApi | undefined,
): TrustedProfileResult {
  const profile: TrustedProfileRef = tp.profileId
    ? { id: tp.profileId }
    : tp.profileName
      ? { name: tp.profileName, accountId: tp.accountId ?? '' }
      : { crn: tp.profileCrn ?? '' };
  const describe = `trusted profile ${tp.profileId ?? tp.profileName ?? tp.profileCrn}`;
  if (tp.serviceAccountRef) {
    const ref = tp.serviceAccountRef;
    let namespace: string;
    if (key.kind === 'SecretStore') {
      const own = key.namespace as string;
      if (ref.namespace !== undefined && ref.namespace !== own) {
        return {
          ok: false,
          message:
            `spec.secretsManager.auth.trustedProfile.serviceAccountRef names namespace ` +
            `${ref.namespace}, but a SecretStore may only use a service account of its own ` +
            `namespace (${own}); use a ClusterSecretStore for another namespace's identity`,
        };
      }
      namespace = own;
    } else {
      if (!ref.namespace) {
        return {
          ok: false,
          message:
            'spec.secretsManager.auth.trustedProfile.serviceAccountRef.namespace is required on a ClusterSecretStore',
        };
      }
      namespace = ref.namespace;
    }
    if (!tokens) return { ok: false, message: 'this operator cannot make TokenRequests' };
    const audiences = [...ref.audiences];
    return {
      ok: true,
      describe,
      credential: {
        profile,
        source:
          `service account ${namespace}/${ref.name} ` +
          `(audiences ${audiences.join(',')}, ${ref.expirationSeconds}s)`,
        crToken: serviceAccountTokenSource(tokens, {
          namespace,
          name: ref.name,
          audiences,
          expirationSeconds: ref.expirationSeconds,
        }),
      },
    };
  }
  if (tp.tokenPath && key.kind === 'ClusterSecretStore') {
    return {
      ok: true,
      describe,
      credential: {
        profile,
        source: `token file ${tp.tokenPath}`,
        crToken: fileTokenSource(tp.tokenPath),
      },
    };
  }
  return {
    ok: false,
    message:
      key.kind === 'SecretStore'
        ? 'spec.secretsManager.auth.trustedProfile.serviceAccountRef is required (tokenPath is only for ClusterSecretStores)'
        : 'set spec.secretsManager.auth.trustedProfile.serviceAccountRef or tokenPath',
  };
}
