import { describe, expect, it } from 'vitest';
import { RefreshGate } from './gate.ts';

describe('RefreshGate', () => {
  it('lets `slots` refreshes in at once and hands the next one back', () => {
    const gate = new RefreshGate(3);
    expect([gate.tryEnter(), gate.tryEnter(), gate.tryEnter()]).toEqual([true, true, true]);
    expect(gate.tryEnter()).toBe(false);
    expect(gate.deferred).toBe(1);
    gate.leave();
    expect(gate.tryEnter()).toBe(true);
  });

  it('always has at least one slot and a short, jittered hand-back delay', () => {
    expect(new RefreshGate(0).tryEnter()).toBe(true);
    expect(RefreshGate.deferMs(() => 0)).toBe(200);
    expect(RefreshGate.deferMs(() => 0.999)).toBeLessThan(1000);
  });
});
