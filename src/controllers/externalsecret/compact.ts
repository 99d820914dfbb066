// What the ExternalSecret cache keeps of each object: the strings thousands of resources repeat
// (store names, remote secret IDs, types and groups, condition reasons and messages, the
// sources' last_update_dates, timestamps to the second) as one shared copy each, and so the
// small objects made of them (a store reference, a remote reference, a source).
import { internAny, shareFlat } from '../../runtime/intern.ts';

type Loose = Record<string, unknown>;

const asObject = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Loose)
    : undefined;

function internFields(value: unknown, fields: readonly string[]): void {
  const obj = asObject(value);
  if (!obj || Object.isFrozen(obj)) return; // a shared copy: interned already
  for (const field of fields)
    if (typeof obj[field] === 'string') obj[field] = internAny(obj[field]);
}

/** Interns `fields` of `holder[key]`, then puts the shared copy in its place (`shareFlat`). */
function internShared(holder: Loose, key: string, fields: readonly string[]): void {
  if (!(key in holder)) return;
  internFields(holder[key], fields);
  holder[key] = shareFlat(holder[key]);
}

function internEach(list: unknown, fields: readonly string[], share: boolean): void {
  if (!Array.isArray(list)) return;
  for (const [i, item] of list.entries()) {
    internFields(item, fields);
    if (share) list[i] = shareFlat(item);
  }
}

// The fields of spec.data[].remoteRef and spec.dataFrom[].extract (api/externalsecret.ts).
const REMOTE_REF = ['type', 'id', 'name', 'group', 'property', 'version'];
const CONDITION = ['type', 'status', 'reason', 'message', 'lastTransitionTime'];
const SOURCE = ['type', 'id', 'group', 'lastUpdateDate'];

/**
 * Interns, in place, the repeated strings of an ExternalSecret as the API server sent it, and
 * puts shared, frozen copies in place of its small flat objects: a cached object is read, never
 * written to.
 */
export function compactExternalSecret<T>(obj: T): T {
  const spec = asObject((obj as Loose).spec);
  if (spec) {
    internFields(spec, ['refreshInterval', 'refreshSchedule']);
    internShared(spec, 'storeRef', ['kind', 'name']);
    internShared(spec, 'target', []);
    for (const [list, field] of [
      [spec.data, 'remoteRef'],
      [spec.dataFrom, 'extract'],
    ] as const) {
      if (!Array.isArray(list)) continue;
      for (const item of list) {
        const holder = asObject(item);
        if (holder) internShared(holder, field, REMOTE_REF);
      }
    }
  }
  const status = asObject((obj as Loose).status);
  if (status) {
    internFields(status, ['refreshTime', 'syncedDataHash']);
    // A condition's message names the resource's Secret: shared copies would be as many.
    internEach(status.conditions, CONDITION, false);
    internEach(status.sources, SOURCE, true);
  }
  return obj;
}
