// The chaos run's judges must be able to fail: a key planted in a log is found, raw or as a
// Secret's base64 data, and every missed goal is named.
import { describe, expect, it } from 'vitest';
import { type ChaosReport, findKeys, goalsMissed } from '../chaos/chaos.ts';

const key = 'Ab3-_xYz0123456789Ab3-_xYz0123456789Ab3-_xYz';

describe('chaos judges', () => {
  it('finds API keys in logs as they are and base64-encoded, and not otherwise', () => {
    const other = 'Zz3-_xYz0123456789Ab3-_xYz0123456789Ab3-_xYz';
    const b64 = Buffer.from(key).toString('base64');
    expect(findKeys([`{"msg":"x","err":"bad key ${key}."}`], new Set([key, other]))).toBe(1);
    expect(findKeys([`{"data":{"apikey":"${b64}"}}`], new Set([key]))).toBe(1);
    expect(findKeys([`prefix${key}suffix`], new Set([key]))).toBe(1);
    expect(findKeys([`{"msg":"${key.slice(0, 40)}"}`], new Set([key]))).toBe(0);
  });

  it('names every missed goal and none when all are met', () => {
    const met = {
      refused: 0,
      expired: 0,
      leasesLeft: 0,
      leftValidUnreported: 0,
      leftValidWrongTtl: 0,
      validAfterTtl: 0,
      keysInLogs: 0,
      samples: 10,
      heldSamples: 100,
      recovery: { leaderKills: 4.5, apiServerRestart: 9 },
    } as ChaosReport;
    expect(goalsMissed(met)).toEqual([]);
    expect(goalsMissed({ ...met, refused: 2, keysInLogs: 1, leftValidUnreported: 1 })).toHaveLength(
      3,
    );
    expect(goalsMissed({ ...met, heldSamples: 0 })).toHaveLength(1);
    expect(goalsMissed({ ...met, recovery: { leaderKills: 4.5, apiServerRestart: null } })).toEqual(
      ["leases not current again within the TTL after the API server's restart"],
    );
  });
});
