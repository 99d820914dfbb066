// What deletionPolicy Delete removes: the Secret this ExternalSecret created, or only its keys
// from a Secret someone else created (Merge). Used when the resource is deleted and when every
// remote secret it reads is gone.
import { type ExternalSecret, externalSecretTargetName } from '../../api/index.ts';
import { deleteSecretIfOwned, releaseSecret, type SecretsApi } from '../shared/secrets.ts';

export interface Removed {
  /** For the status message: the same words whether this call or an earlier one removed it. */
  message: string;
  /** The write made, for the secret_writes metric; undefined when there was nothing left. */
  operation?: 'delete' | 'release';
}

export async function removeTarget(core: SecretsApi, es: ExternalSecret): Promise<Removed> {
  const namespace = es.metadata.namespace as string;
  const name = externalSecretTargetName(es);
  if (es.spec.target.creationPolicy === 'Merge') {
    await releaseSecret(core, namespace, name);
    return { message: `removed our keys from Secret ${name}`, operation: 'release' };
  }
  const ownerUid = es.spec.target.creationPolicy === 'Owner' ? es.metadata.uid : undefined;
  const deleted = await deleteSecretIfOwned(core, namespace, name, ownerUid);
  return {
    message: `deleted Secret ${name}`,
    ...(deleted ? { operation: 'delete' as const } : {}),
  };
}
