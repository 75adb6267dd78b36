import { describe, expect, it } from 'vitest';
import { type Entry, type LineStates, planBatches } from './thingsboard-batches.js';

const e = (ts: number, values: Record<string, unknown> = { V: '230' }): Entry => ({ ts, values });
const tsOf = (batches: Entry[][]) => batches.map((b) => b.map((x) => x.ts));

describe('planBatches', () => {
  it('ends a window where every line is on, and carries an outage still open to the next window', () => {
    const states: LineStates = new Map();
    const window1 = [e(1, { '1': 'true', '2': 'true' }), e(2), e(3, { '2': 'false' }), e(4), e(5)];
    const first = planBatches(window1, states, 100, false);
    expect(tsOf(first.batches)).toEqual([[1, 2]]);
    expect(first.carry.map((x) => x.ts)).toEqual([3, 4, 5]);
    expect([...states]).toEqual([
      ['1', true],
      ['2', true],
    ]);
    const second = planBatches([...first.carry, e(6, { '2': 1 }), e(7)], states, 100, false);
    expect(tsOf(second.batches)).toEqual([[3, 4, 5, 6, 7]]);
    expect(second.carry).toEqual([]);
  });

  it('posts everything at the end of the history, open outage included', () => {
    const out = planBatches([e(1, { '3': 'false' }), e(2)], new Map(), 100, true);
    expect(tsOf(out.batches)).toEqual([[1, 2]]);
    expect(out.carry).toEqual([]);
  });

  it('splits long windows at quiet points, and a line off for a whole batch is posted anyway', () => {
    const entries = [e(1), e(2, { '1': 'false' }), e(3, { '1': 'true' }), e(4), e(5, { '1': 'false' }), e(6), e(7)];
    const split = planBatches(entries, new Map(), 4, false);
    expect(tsOf(split.batches)).toEqual([[1, 2, 3, 4]]);
    expect(split.carry.map((x) => x.ts)).toEqual([5, 6, 7]);
    const long = [e(1, { '1': 'false' }), e(2), e(3), e(4), e(5)];
    const out = planBatches(long, new Map(), 2, false);
    expect(tsOf(out.batches)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(out.carry.map((x) => x.ts)).toEqual([5]);
  });
});
