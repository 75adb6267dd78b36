/** Look-ups grouped while the database is busy (batch-query.ts). */
import { describe, expect, it } from 'vitest';
import { batchedQuery } from './batch-query.js';
import type { CredentialsRow } from './rules.js';

const row = (key: string) => ({ credentialsId: key }) as CredentialsRow;

describe('batchedQuery', () => {
  it('asks at once when idle, groups what arrives while queries run, and answers each caller', async () => {
    const calls: string[][] = [];
    const releases: Array<() => void> = [];
    const q = batchedQuery(
      (keys) =>
        new Promise((resolve) => {
          calls.push(keys);
          releases.push(() => resolve(new Map(keys.map((k) => [k, row(k)]))));
        }),
      1,
      3,
    );
    const first = q(['a']);
    const rest = [q(['b']), q(['c', 'd']), q(['e'])];
    expect(calls).toEqual([['a']]);
    releases[0]?.();
    expect((await first).has('a')).toBe(true);
    // b, c and d fit the 3-key bound together; e waits for the next query.
    expect(calls[1]).toEqual(['b', 'c', 'd']);
    releases[1]?.();
    await new Promise((r) => setImmediate(r));
    expect(calls[2]).toEqual(['e']);
    releases[2]?.();
    const [b, cd, e] = await Promise.all(rest);
    expect(b?.has('b') && cd?.has('d') && e?.has('e')).toBe(true);
  });

  it('fails every caller of a failed query, and keeps serving afterwards', async () => {
    let fail = true;
    const q = batchedQuery(async (keys) => {
      if (fail) throw new Error('database down');
      return new Map(keys.map((k) => [k, row(k)]));
    }, 2);
    await expect(q(['x'])).rejects.toThrow('database down');
    fail = false;
    expect((await q(['y'])).has('y')).toBe(true);
  });
});
