import type { V1Secret } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  API_VERSION,
  type Condition,
  type ExternalSecret,
  parseExternalSecret,
  refreshPlan,
  toRfc3339,
} from '../../api/index.ts';
import { ANNOTATIONS, LABELS, MANAGED_BY_VALUE } from '../shared/constants.ts';
import {
  dueReason,
  dueWithoutTarget,
  holdsValues,
  needsFinalizer,
  nextRefresh,
  nextStatus,
  targetProblem,
  writeDecision,
} from './decide.ts';

const T0 = Date.UTC(2026, 0, 1, 12);
const HASH = 'hmac-sha256:aaaa';

function ready(status: 'True' | 'False', reason: string, observedGeneration = 1): Condition {
  return {
    type: 'Ready',
    status,
    reason,
    message: reason,
    lastTransitionTime: toRfc3339(new Date(T0 - 60_000)),
    observedGeneration,
  };
}

/** A parsed ExternalSecret; by default synced at generation 1, one minute ago. */
function es(
  o: {
    generation?: number;
    annotations?: Record<string, string>;
    target?: Record<string, unknown>;
    status?: Record<string, unknown> | null;
  } = {},
): ExternalSecret {
  const status =
    o.status === null
      ? undefined
      : {
          conditions: [ready('True', 'Synced')],
          observedGeneration: 1,
          refreshTime: toRfc3339(new Date(T0 - 60_000)),
          syncedDataHash: HASH,
          secretName: 'db',
          ...o.status,
        };
  const parsed = parseExternalSecret({
    apiVersion: API_VERSION,
    kind: 'ExternalSecret',
    metadata: {
      name: 'db',
      namespace: 'team-a',
      uid: 'uid-db',
      generation: o.generation ?? 1,
      ...(o.annotations ? { annotations: o.annotations } : {}),
    },
    spec: {
      target: o.target ?? {},
      data: [{ secretKey: 'password', remoteRef: { type: 'arbitrary', name: 'db-password' } }],
    },
    ...(status ? { status } : {}),
  });
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.value;
}

/** The target Secret's metadata as the informer holds it. */
function secret(
  o: { hash?: string; managed?: boolean; owner?: string; rv?: string } = {},
): Pick<V1Secret, 'metadata'> {
  return {
    metadata: {
      name: 'db',
      resourceVersion: o.rv ?? '10',
      labels: o.managed === false ? {} : { [LABELS.managedBy]: MANAGED_BY_VALUE },
      annotations: { [ANNOTATIONS.dataHash]: o.hash ?? HASH },
      ...(o.owner
        ? {
            ownerReferences: [
              {
                apiVersion: API_VERSION,
                kind: 'ExternalSecret',
                name: 'x',
                uid: o.owner,
                controller: true,
              },
            ],
          }
        : {}),
    },
  };
}

const due = (e: ExternalSecret, target?: ReturnType<typeof secret>, now = T0) =>
  dueReason(e, refreshPlan(e.spec), now, { meta: target });

describe('dueWithoutTarget / dueReason', () => {
  it('syncs a new or changed spec, whatever the target looks like', () => {
    expect(dueWithoutTarget(es({ status: null }))).toBe('spec');
    expect(dueWithoutTarget(es({ generation: 2 }))).toBe('spec');
    expect(due(es({ generation: 2 }), secret())).toBe('spec');
  });

  it('syncs on a new force-sync value, once', () => {
    const forced = es({ annotations: { [ANNOTATIONS.forceSync]: 'now' } });
    expect(dueWithoutTarget(forced)).toBe('force');
    const done = es({
      annotations: { [ANNOTATIONS.forceSync]: 'now' },
      status: { forceSyncValue: 'now' },
    });
    expect(dueWithoutTarget(done)).toBe('checkTarget');
    expect(due(done, secret())).toBeUndefined();
  });

  it('retries a resource that is not Ready', () => {
    const failing = es({ status: { conditions: [ready('False', 'SyncError')] } });
    expect(dueWithoutTarget(failing)).toBe('retry');
    expect(due(failing, secret())).toBe('retry');
  });

  it('looks at the target of a Ready resource: missing or edited means sync now', () => {
    const synced = es();
    expect(dueWithoutTarget(synced)).toBe('checkTarget');
    expect(due(synced, secret())).toBeUndefined();
    expect(due(synced, undefined)).toBe('secretMissing');
    expect(due(synced, secret({ hash: 'hmac-sha256:edited' }))).toBe('secretChanged');
  });

  it('ignores the hash annotation of a Merge target (someone else owns the Secret)', () => {
    const merged = es({ target: { creationPolicy: 'Merge' } });
    expect(due(merged, secret({ hash: 'hmac-sha256:other', managed: false }))).toBeUndefined();
    expect(due(merged, undefined)).toBe('secretMissing');
  });

  it('refreshes when the interval (less its per-resource jitter) has passed', () => {
    const synced = es();
    const next = nextRefresh(synced, refreshPlan(synced.spec), T0) as number;
    expect(next).toBeGreaterThan(T0 - 60_000 + 54 * 60_000);
    expect(next).toBeLessThanOrEqual(T0 - 60_000 + 3_600_000);
    expect(due(synced, secret(), next - 1)).toBeUndefined();
    expect(due(synced, secret(), next)).toBe('refresh');
  });

  it('does not sync a spec blocked for this generation, not even when the refresh is due', () => {
    for (const reason of ['InvalidSpec', 'UseIAMCredentialLease']) {
      const blocked = es({ status: { conditions: [ready('False', reason)] } });
      expect(dueWithoutTarget(blocked)).toBe('notDue');
      expect(due(blocked, undefined, T0 + 10 * 3_600_000)).toBeUndefined();
      // A new generation is a new chance.
      const edited = es({ generation: 2, status: { conditions: [ready('False', reason)] } });
      expect(dueWithoutTarget(edited)).toBe('spec');
    }
  });
});

describe('targetProblem', () => {
  it('Merge waits for a Secret to exist, and then writes into anyone’s', () => {
    const merged = es({ target: { creationPolicy: 'Merge' } });
    expect(targetProblem(merged, undefined)).toMatchObject({
      reason: 'SyncError',
      retryMs: 30_000,
    });
    expect(targetProblem(merged, secret({ managed: false }))).toBeUndefined();
  });

  it('refuses a foreign Secret and one another resource owns; takes its own or none', () => {
    const owner = es();
    expect(targetProblem(owner, secret({ managed: false }))).toMatchObject({
      reason: 'TargetConflict',
      message: expect.stringContaining('not created by this operator'),
    });
    expect(targetProblem(owner, secret({ owner: 'uid-other' }))).toMatchObject({
      reason: 'TargetConflict',
      message: expect.stringContaining('owned by another object'),
    });
    expect(targetProblem(owner, secret({ owner: 'uid-db' }))).toBeUndefined();
    expect(targetProblem(owner, undefined)).toBeUndefined();
  });
});

describe('writeDecision', () => {
  const ours = secret({ owner: 'uid-db', rv: '10' });
  const written = { resourceVersion: '10', hash: HASH };

  it('skips only when data, spec and the Secret are what our last write left', () => {
    expect(writeDecision(es(), HASH, ours, written)).toBe('skip');
  });

  it('writes new data, a new spec, a renamed target, a missing or edited Secret', () => {
    expect(writeDecision(es(), 'hmac-sha256:new', ours, written)).toBe('write');
    expect(writeDecision(es({ generation: 2 }), HASH, ours, written)).toBe('write');
    expect(writeDecision(es({ target: { name: 'db-v2' } }), HASH, ours, written)).toBe('write');
    expect(writeDecision(es(), HASH, undefined, written)).toBe('write');
    expect(writeDecision(es(), HASH, secret({ hash: 'hmac-sha256:x' }), written)).toBe('write');
  });

  it('compares values when this process did not write what is there now', () => {
    expect(writeDecision(es(), HASH, ours, undefined)).toBe('compare');
    expect(writeDecision(es(), HASH, secret({ rv: '11' }), written)).toBe('compare');
    // Merge: the hash annotation is not ours to trust.
    const merged = es({ target: { creationPolicy: 'Merge' } });
    expect(writeDecision(merged, HASH, secret({ hash: 'x', rv: '11' }), written)).toBe('compare');
  });
});

describe('holdsValues', () => {
  it('is true when every key has its value; other keys in the Secret do not matter', () => {
    expect(holdsValues({ a: '1' }, { a: '1', theirs: 'x' })).toBe(true);
    expect(holdsValues({ a: '1', b: '2' }, { a: '1' })).toBe(false);
    expect(holdsValues({ a: '1' }, { a: '2' })).toBe(false);
  });
});

describe('needsFinalizer', () => {
  it('only deletionPolicy Delete without an owner reference needs one', () => {
    expect(
      needsFinalizer(es({ target: { deletionPolicy: 'Delete', creationPolicy: 'Orphan' } })),
    ).toBe(true);
    expect(
      needsFinalizer(es({ target: { deletionPolicy: 'Delete', creationPolicy: 'Merge' } })),
    ).toBe(true);
    expect(
      needsFinalizer(es({ target: { deletionPolicy: 'Delete', creationPolicy: 'Owner' } })),
    ).toBe(false);
    expect(
      needsFinalizer(es({ target: { deletionPolicy: 'Retain', creationPolicy: 'Merge' } })),
    ).toBe(false);
  });
});

describe('nextStatus', () => {
  it('sets Ready with the generation, the target name and extra fields (null removes)', () => {
    const e = es({ generation: 3, target: { name: 'db-v2' } });
    const next = nextStatus(
      e,
      e,
      { ready: false, reason: 'SyncError', message: 'boom' },
      { syncedDataHash: null },
      T0,
    );
    expect(next).toMatchObject({
      observedGeneration: 3,
      secretName: 'db-v2',
      syncedDataHash: null,
      refreshTime: toRfc3339(new Date(T0 - 60_000)),
      conditions: [
        {
          type: 'Ready',
          status: 'False',
          reason: 'SyncError',
          message: 'boom',
          observedGeneration: 3,
          lastTransitionTime: toRfc3339(new Date(T0)),
        },
      ],
    });
  });

  it('keeps the recorded target name when the spec does not parse', () => {
    const raw = { metadata: { generation: 4 }, status: { secretName: 'db' } };
    const next = nextStatus(
      raw,
      undefined,
      { ready: false, reason: 'InvalidSpec', message: 'x' },
      {},
      T0,
    );
    expect(next).toMatchObject({ secretName: 'db', observedGeneration: 4 });
  });
});
