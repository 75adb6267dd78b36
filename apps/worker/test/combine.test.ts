import type { IngestBatch, IngestMessage } from '@spms/queue';
import { describe, expect, it } from 'vitest';
import { BatchCombiner } from '../src/handlers/combine.js';

const msg = (id: string): IngestMessage => ({
  kind: 'telemetry',
  id,
  deviceId: '00000000-0000-4000-8000-00000000000a',
  receivedAt: 1,
  transport: 'mqtt',
  entries: [{ values: { V: 230 } }],
});
const batch = (...ids: string[]): IngestBatch => ({ v: 1, messages: ids.map(msg) });

describe('BatchCombiner (group commit of concurrent ingest jobs)', () => {
  it('runs a lone job at once and merges the jobs that queue up meanwhile into one transaction', async () => {
    const runs: string[][] = [];
    let release: () => void = () => {};
    const combiner = new BatchCombiner(
      async (b) => {
        runs.push(b.messages.map((m) => m.id));
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
        return { after: Promise.resolve(runs.length) };
      },
      1,
      3,
    );
    const first = combiner.submit(batch('a'));
    const rest = [combiner.submit(batch('b')), combiner.submit(batch('c', 'd')), combiner.submit(batch('e'))];
    expect(runs).toEqual([['a']]);
    release();
    expect(await first).toBe(1);
    expect(await Promise.all(rest)).toEqual([2, 2, 3]);
    // b + c,d fill the 3-message limit; e rides the next transaction
    expect(runs).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
  });

  it('re-runs each job of a failed merged transaction alone, so only the bad job fails', async () => {
    const runs: string[][] = [];
    let release: () => void = () => {};
    const combiner = new BatchCombiner(
      async (b) => {
        const ids = b.messages.map((m) => m.id);
        runs.push(ids);
        if (runs.length === 1) await new Promise<void>((r) => (release = r));
        if (ids.includes('bad')) throw new Error('poison');
        return { after: Promise.resolve(ids.join()) };
      },
      1,
      100,
    );
    const first = combiner.submit(batch('a'));
    const good = combiner.submit(batch('b'));
    const bad = combiner.submit(batch('bad'));
    const good2 = combiner.submit(batch('c'));
    release();
    await first;
    expect(await good).toBe('b');
    await expect(bad).rejects.toThrow('poison');
    expect(await good2).toBe('c');
    expect(runs).toEqual([['a'], ['b', 'bad', 'c'], ['b'], ['bad'], ['c']]);
  });
});
