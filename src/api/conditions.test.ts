import { describe, expect, it } from 'vitest';
import type { Condition } from './common.ts';
import { conditionUnchanged, findCondition, isConditionTrue, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-02T03:04:05.678Z');
const t1 = new Date('2026-01-02T04:00:00Z');

const ready = (status: 'True' | 'False', reason: string, generation = 1) => ({
  type: 'Ready',
  status,
  reason,
  message: `${reason} message`,
  observedGeneration: generation,
});

describe('setCondition', () => {
  it('adds a condition with the transition time in second precision', () => {
    const conditions = setCondition(undefined, ready('True', 'Synced'), t0);
    expect(conditions).toEqual([
      { ...ready('True', 'Synced'), lastTransitionTime: '2026-01-02T03:04:05Z' },
    ]);
  });

  it('keeps lastTransitionTime when the status does not change, even if reason and message do', () => {
    const first = setCondition(undefined, ready('False', 'SyncError'), t0);
    const second = setCondition(first, ready('False', 'StoreNotReady', 2), t1);
    expect(second[0]).toMatchObject({
      reason: 'StoreNotReady',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-02T03:04:05Z',
    });
  });

  it('moves lastTransitionTime when the status changes', () => {
    const first = setCondition(undefined, ready('False', 'SyncError'), t0);
    const second = setCondition(first, ready('True', 'Synced'), t1);
    expect(second[0]?.lastTransitionTime).toBe('2026-01-02T04:00:00Z');
  });

  it('leaves other conditions, their order and the input list alone', () => {
    const other: Condition = {
      type: 'RevocationsComplete',
      status: 'True',
      reason: 'NothingPending',
      message: '',
      lastTransitionTime: '2026-01-01T00:00:00Z',
    };
    const input = setCondition([other], ready('True', 'Leased'), t0);
    const frozen = structuredClone(input);
    const output = setCondition(input, ready('False', 'LeaseExpired'), t1);
    expect(input).toEqual(frozen);
    expect(output.map((condition) => condition.type)).toEqual(['RevocationsComplete', 'Ready']);
    expect(output[0]).toBe(other);
  });
});

describe('condition queries', () => {
  const conditions = setCondition(undefined, ready('True', 'Synced', 4), t0);

  it('finds by type', () => {
    expect(findCondition(conditions, 'Ready')?.reason).toBe('Synced');
    expect(findCondition(conditions, 'Other')).toBeUndefined();
  });

  it('is true only for status True at the given generation', () => {
    expect(isConditionTrue(conditions, 'Ready')).toBe(true);
    expect(isConditionTrue(conditions, 'Ready', 4)).toBe(true);
    expect(isConditionTrue(conditions, 'Ready', 5)).toBe(false);
    expect(isConditionTrue(undefined, 'Ready')).toBe(false);
  });

  it('tells a controller when a status write would change nothing', () => {
    expect(conditionUnchanged(conditions, ready('True', 'Synced', 4))).toBe(true);
    expect(conditionUnchanged(conditions, ready('True', 'Synced', 5))).toBe(false);
    expect(conditionUnchanged(conditions, { ...ready('True', 'Synced', 4), message: 'x' })).toBe(
      false,
    );
  });
});
