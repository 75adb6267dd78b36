import type { IngestBatch, IngestMessage } from '@spms/queue';
import { describe, expect, it } from 'vitest';
import { BatchCombiner } from '../src/handlers/combine.js';
import { splitByDevice } from '../src/handlers/ingest-batch.js';

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

describe('splitByDevice (parallel transactions that share no device)', () => {
  it('puts all messages of a device into one part and loses none', () => {
    const devices = Array.from({ length: 20 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const messages = Array.from({ length: 200 }, (_, i) => ({ ...msg(`m${i}`), deviceId: devices[i % 20] as string }));
    expect(splitByDevice({ v: 1, messages }, 1)).toEqual([{ v: 1, messages }]);
    const parts = splitByDevice({ v: 1, messages }, 3);
    expect(parts.flatMap((p) => p.messages.map((m) => m.id)).sort()).toEqual(messages.map((m) => m.id).sort());
    const owner = new Map<string, number>();
    parts.forEach((p, i) => {
      for (const m of p.messages) {
        expect(owner.get(m.deviceId) ?? i).toBe(i);
        owner.set(m.deviceId, i);
      }
    });
    expect(parts.length).toBeGreaterThan(1);
  });
});
