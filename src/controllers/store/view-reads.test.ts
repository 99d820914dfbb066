import { describe, expect, it } from 'vitest';
import type { RemoteSecret } from '../../secretsmanager/index.ts';
import { type Flight, settled, ValueReads, type Warmer } from './view-reads.ts';

const ref = (id: string) => ({ type: 'arbitrary' as const, id });

function setup(limit: number) {
  const started: string[] = [];
  const answers = new Map<string, (s: RemoteSecret) => void>();
  const failures = new Map<string, (e: unknown) => void>();
  const reads = new ValueReads(
    () => limit,
    (f: Flight) => {
      started.push(f.id);
      return new Promise<RemoteSecret>((resolve, reject) => {
        answers.set(f.id, resolve);
        failures.set(f.id, reject);
      });
    },
  );
  return { reads, started, answers, failures };
}

const secret = (id: string) => ({ metadata: { id } }) as unknown as RemoteSecret;
const tick = () => new Promise((r) => setTimeout(r, 0));

describe('ValueReads', () => {
  it('shares one read per id and hands the client no more than the limit; the next goes as one lands', async () => {
    const { reads, started, answers } = setup(2);
    const a = reads.start('a', ref('a'), 'a', 'first');
    expect(reads.start('a', ref('a'), 'a', 'first')).toBe(a);
    reads.start('b', ref('b'), 'b', 'first');
    reads.start('c', ref('c'), 'c', 'first');
    expect(started).toEqual(['a', 'b']);
    expect(reads.waiting).toBe(1);
    const value = reads.result(a);
    answers.get('a')?.(secret('a'));
    expect(await value).toEqual(secret('a'));
    expect(started).toEqual(['a', 'b', 'c']);
    expect(reads.waiting).toBe(0);
    // A finished read is not shared any more: asking again reads again.
    reads.start('a', ref('a'), 'a', 'stale');
    await tick();
    expect(started).toEqual(['a', 'b', 'c']);
    answers.get('b')?.(secret('b'));
    await tick();
    expect(started).toEqual(['a', 'b', 'c', 'a']);
  });

  it('settles a warmer once all its reads finished, failed or not, and passes failures to readers', async () => {
    const { reads, answers, failures } = setup(8);
    let done = 0;
    const warmer: Warmer = { remaining: 2, done: () => done++ };
    const x = reads.start('x', ref('x'), 'x', 'first');
    const y = reads.start('y', ref('y'), 'y', 'first');
    x.warmers.push(warmer);
    y.warmers.push(warmer);
    const failed = reads.result(y);
    answers.get('x')?.(secret('x'));
    await tick();
    expect(done).toBe(0);
    failures.get('y')?.(new Error('503'));
    await expect(failed).rejects.toThrow('503');
    expect(done).toBe(1);
    settled({ remaining: 1, done: () => done++ });
    expect(done).toBe(2);
  });

  it('flush hands every waiting read to the client at once', () => {
    const { reads, started } = setup(1);
    for (const id of ['p', 'q', 'r']) reads.start(id, ref(id), id, 'first');
    expect(started).toEqual(['p']);
    reads.flush();
    expect(started).toEqual(['p', 'q', 'r']);
    expect(reads.waiting).toBe(0);
  });
});
