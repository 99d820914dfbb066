import { afterEach, describe, expect, it } from 'vitest';
import { FakeClock, flush, until } from '../runtime/testing/fake-clock.ts';
import { Semaphore, TokenBucket } from './limiter.ts';
import { arbitraryData } from './testing/fixtures.ts';
import { deferred, type MockSecretsManager, vaultEnvelope } from './testing/mock-server.ts';
import { setup } from './testing/setup.ts';

let server: MockSecretsManager | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('TokenBucket', () => {
  it('lets a burst through, then paces at qps in arrival order', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 2, burst: 3 }, clock);
    const order: number[] = [];
    const takes = Array.from({ length: 6 }, (_, i) => bucket.take().then(() => order.push(i)));
    await flush();
    expect(order).toEqual([0, 1, 2]);
    clock.tick(499);
    await flush();
    expect(order).toEqual([0, 1, 2]);
    clock.tick(1);
    await flush();
    expect(order).toEqual([0, 1, 2, 3]);
    clock.tick(1000);
    await flush();
    await Promise.all(takes);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refills while idle up to the burst only', async () => {
    const clock = new FakeClock();
    const bucket = new TokenBucket({ qps: 10, burst: 2 }, clock);
    await bucket.take();
    await bucket.take();
    clock.tick(60_000);
    let got = 0;
    for (let i = 0; i < 3; i++) void bucket.take().then(() => got++);
    await flush();
    expect(got).toBe(2);
  });
});

describe('Semaphore', () => {
  it('admits at most max holders and hands slots over in order', async () => {
    const sem = new Semaphore(2);
    const r1 = await sem.acquire();
    const r2 = await sem.acquire();
    let third = false;
    const p3 = sem.acquire().then((r) => {
      third = true;
      return r;
    });
    await flush();
    expect(third).toBe(false);
    r1();
    r1(); // releasing twice frees one slot only
    const r3 = await p3;
    expect(sem.active).toBe(2);
    r2();
    r3();
    expect(sem.active).toBe(0);
  });
});

describe('per-store limits on the client', () => {
  it('keeps no more than `concurrency` requests in flight', async () => {
    const s = setup({ concurrency: 2, rateLimit: { qps: 1000, burst: 1000 } });
    server = s.server;
    const hold = deferred();
    let inFlight = 0;
    let peak = 0;
    s.server.vaultGet(/arbitrary\/secrets\/s\d$/, async () => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await hold.promise;
      inFlight--;
      return { status: 200, body: vaultEnvelope(arbitraryData()) };
    });
    const reads = Promise.all(
      [1, 2, 3, 4, 5].map((i) => s.client.getSecret({ type: 'arbitrary', id: `s${i}` })),
    );
    await until(() => inFlight === 2);
    await flush();
    expect(s.server.count('GET', /arbitrary/)).toBe(2);
    hold.resolve();
    await s.run(reads);
    expect(peak).toBe(2);
    expect(s.server.count('GET', /arbitrary/)).toBe(5);
  });

  it('paces requests to the instance at the store rate limit', async () => {
    const s = setup({ rateLimit: { qps: 1, burst: 2 } });
    server = s.server;
    s.server.vaultGet(/arbitrary\/secrets\/s\d$/, () => ({
      status: 200,
      body: vaultEnvelope(arbitraryData()),
    }));
    const reads = Promise.all(
      [1, 2, 3].map((i) => s.client.getSecret({ type: 'arbitrary', id: `s${i}` })),
    );
    // The login takes one token and the first read the other; the rest wait a second each.
    await until(() => s.server.count('GET', /arbitrary/) === 1);
    await flush();
    expect(s.server.count('GET', /arbitrary/)).toBe(1);
    // What the store's view paces its reads by: the rate, and the wait of a request made now.
    expect(s.client.requestsPerSecond).toBe(1);
    expect(s.client.backlogMs).toBe(2000);
    const t0 = s.clock.now();
    await s.run(reads);
    expect(s.client.backlogMs).toBe(0);
    expect(s.server.count('GET', /arbitrary/)).toBe(3);
    expect(s.clock.now() - t0).toBe(2000);
  });
});
