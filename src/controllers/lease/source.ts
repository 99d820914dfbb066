// Where a lease's credential comes from: the store and the iam_credentials secret. A change of
// either leases a new credential; any other spec change only rewrites the Secret.
import { createHash } from 'node:crypto';
import type { IAMCredentialLease } from '../../api/index.ts';
import type { IamCredentialsRef } from '../../secretsmanager/index.ts';
import { storeRefLabel } from '../store/key.ts';

export function credentialRef(spec: IAMCredentialLease['spec']): IamCredentialsRef {
  const { id, name, group } = spec.credential;
  return {
    ...(id !== undefined ? { id } : {}),
    ...(name !== undefined ? { name } : {}),
    ...(group !== undefined && group !== 'default' ? { group } : {}),
  };
}

/** `id` or `name` (with its group), for messages and the minting marker. */
export function describeCredentialSource(spec: IAMCredentialLease['spec']): string {
  const { id, name, group } = spec.credential;
  const which = id !== undefined ? `id ${id}` : `name ${name}`;
  return group !== undefined && group !== 'default' ? `${which} in group ${group}` : which;
}

/** A digest of the store and the secret reference (not secret: IDs and names only). */
export function sourceHash(spec: IAMCredentialLease['spec']): string {
  const { id, name, group } = spec.credential;
  const canonical = JSON.stringify([
    storeRefLabel(spec.storeRef),
    id ?? null,
    name ?? null,
    group === undefined || group === 'default' ? 'default' : group,
  ]);
  return `sha256:${createHash('sha256').update(canonical).digest('hex').slice(0, 32)}`;
}
