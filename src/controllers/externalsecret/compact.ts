// What the ExternalSecret cache keeps of each object: the strings thousands of resources repeat
// (store names, remote secret IDs, types and groups, condition reasons and messages, the
// sources' last_update_dates, timestamps to the second) as one shared copy each.
import { internAny } from '../../runtime/intern.ts';

type Loose = Record<string, unknown>;

const asObject = (value: unknown): Loose | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Loose)
    : undefined;

function internFields(value: unknown, fields: readonly string[]): void {
  const obj = asObject(value);
  if (!obj) return;
  for (const field of fields)
    if (typeof obj[field] === 'string') obj[field] = internAny(obj[field]);
}

function internEach(list: unknown, fields: readonly string[]): void {
  if (Array.isArray(list)) for (const item of list) internFields(item, fields);
}

// The fields of spec.data[].remoteRef and spec.dataFrom[].extract (api/externalsecret.ts).
const REMOTE_REF = ['type', 'id', 'name', 'group', 'property', 'version'];
const CONDITION = ['type', 'status', 'reason', 'message', 'lastTransitionTime'];
const SOURCE = ['type', 'id', 'group', 'lastUpdateDate'];

/** Interns, in place, the repeated strings of an ExternalSecret as the API server sent it. */
export function compactExternalSecret<T>(obj: T): T {
  const spec = asObject((obj as Loose).spec);
  if (spec) {
    internFields(spec, ['refreshInterval', 'refreshSchedule']);
    internFields(spec.storeRef, ['kind', 'name']);
    if (Array.isArray(spec.data)) {
      for (const item of spec.data) internFields(asObject(item)?.remoteRef, REMOTE_REF);
    }
    if (Array.isArray(spec.dataFrom)) {
      for (const item of spec.dataFrom) internFields(asObject(item)?.extract, REMOTE_REF);
    }
  }
  const status = asObject((obj as Loose).status);
  if (status) {
    internFields(status, ['refreshTime', 'syncedDataHash']);
    internEach(status.conditions, CONDITION);
    internEach(status.sources, SOURCE);
  }
  return obj;
}
