import type { Permission } from './router.ts';
import type { Role } from './types.ts';

/**
 * Secrets Manager's service roles, each including the one before: Reader sees metadata,
 * SecretsReader also reads values (and so mints IAM credentials), Writer creates, changes,
 * rotates, locks and deletes secrets, Manager also manages groups, engines and login settings.
 */
const RANK: Record<Role, number> = { Reader: 0, SecretsReader: 1, Writer: 2, Manager: 3 };
const NEEDED: Record<Permission, number> = { metadata: 0, value: 1, write: 2, manage: 3 };

export function roleAllows(role: Role, perm: Permission): boolean {
  return RANK[role] >= NEEDED[perm];
}

/** Vault policies reported at login, by role (the documented example shows a Reader). */
export function policiesFor(role: Role): string[] {
  const name = {
    Reader: 'instance-reader',
    SecretsReader: 'instance-secrets-reader',
    Writer: 'instance-writer',
    Manager: 'instance-manager',
  }[role];
  return ['default', name];
}

/** Who is calling: the API key's role and optional group limit. */
export interface Principal {
  role: Role;
  /** Group IDs the principal may touch; undefined = every group. */
  groups: ReadonlySet<string> | undefined;
  /** `iam-ServiceId-...`, written into `created_by`. */
  iamId: string;
}

export function groupAllowed(p: Principal, groupId: string): boolean {
  return p.groups === undefined || p.groups.has(groupId);
}
