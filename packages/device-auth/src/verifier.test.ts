/** The password-check queue: bounded concurrency, first come first served, bounded wait. */
import { describe, expect, it } from 'vitest';
import { FairVerifier, VerifyAbandoned, VerifyQueueFull } from './verifier.js';

/** A check the test finishes by hand. */
function held() {
  let finish!: (ok: boolean) => void;
  let started = false;
  const promise = new Promise<boolean>((r) => {
    finish = r;
  });
  return {
    check: () => {
      started = true;
      return promise;
    },
    finish: (ok = true) => finish(ok),
    get started() {
      return started;
    },
  };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('FairVerifier', () => {
  it('runs at most `concurrency` checks at once, the waiting ones in arrival order', async () => {
    const v = new FairVerifier(2, 10);
    const jobs = Array.from({ length: 5 }, () => held());
    const order: number[] = [];
    const results = jobs.map((j, i) => v.run(j.check).then(() => order.push(i)));
    await tick();
    expect(jobs.map((j) => j.started)).toEqual([true, true, false, false, false]);
    expect(v.stats()).toMatchObject({ running: 2, queued: 3 });
    jobs[1]?.finish();
    await tick();
    expect(jobs.map((j) => j.started)).toEqual([true, true, true, false, false]);
    jobs[0]?.finish();
    await tick();
    expect(jobs[3]?.started).toBe(true);
    for (const j of jobs) j.finish();
    await Promise.all(results);
    expect(order).toEqual([1, 0, 2, 3, 4]);
    expect(v.stats()).toMatchObject({ running: 0, queued: 0 });
  });

  it('refuses at once beyond the queue bound, and takes checks again once there is room', async () => {
    const v = new FairVerifier(1, 2);
    const jobs = Array.from({ length: 3 }, () => held());
    const accepted = jobs.map((j) => v.run(j.check));
    await expect(v.run(async () => true)).rejects.toBeInstanceOf(VerifyQueueFull);
    expect(v.stats().queueFull).toBe(1);
    jobs[0]?.finish();
    await accepted[0];
    const late = held();
    const lateResult = v.run(late.check);
    for (const j of jobs) j.finish(false);
    late.finish(true);
    expect(await Promise.all(accepted)).toEqual([true, false, false]);
    expect(await lateResult).toBe(true);
  });

  it('drops a waiting check whose device has gone, without running it', async () => {
    const v = new FairVerifier(1, 10);
    const first = held();
    const gone = held();
    const ac = new AbortController();
    const r1 = v.run(first.check);
    const r2 = v.run(gone.check, ac.signal);
    ac.abort();
    first.finish();
    await r1;
    await expect(r2).rejects.toBeInstanceOf(VerifyAbandoned);
    expect(gone.started).toBe(false);
    expect(v.stats().abandoned).toBe(1);
  });

  it('refuses at once when the expected wait (queue × recent time per check) exceeds maxWaitMs', async () => {
    let clock = 0;
    const v = new FairVerifier(1, 1000, 50, () => clock);
    // One check that took 30 ms sets the pace.
    const pace = held();
    const first = v.run(pace.check);
    clock = 30;
    pace.finish();
    await first;
    const running = held();
    const r1 = v.run(running.check);
    const r2 = v.run(async () => true); // expected wait ~1 × 30 ms: queued
    await expect(v.run(async () => true)).rejects.toBeInstanceOf(VerifyQueueFull); // ~2 × 30 ms > 50
    running.finish();
    expect(await Promise.all([r1, r2])).toEqual([true, true]);
  });
});
