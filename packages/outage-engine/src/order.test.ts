import { describe, expect, it } from 'vitest';
import { compareKeys, latestLineState, sortUnique } from './order.js';

describe('latestLineState', () => {
  it('keeps the newest timestamp per line, not the last received (a replay does not overwrite)', () => {
    const received = [
      { line: 1, ts: 200, msgId: 'x', powered: false },
      { line: 2, ts: 50, msgId: 'y', powered: true },
      { line: 1, ts: 100, msgId: 'z', powered: true }, // late replay from the edge buffer
    ];
    const latest = latestLineState(received);
    expect(latest.get(1)).toMatchObject({ ts: 200, powered: false });
    expect(latest.get(2)).toMatchObject({ ts: 50, powered: true });
    expect(latest.size).toBe(2);
  });

  it('breaks equal timestamps by msgId, whatever the arrival order', () => {
    const a = { line: 1, ts: 100, msgId: 'a', powered: true };
    const b = { line: 1, ts: 100, msgId: 'b', powered: false };
    expect(latestLineState([a, b]).get(1)).toBe(b);
    expect(latestLineState([b, a]).get(1)).toBe(b);
  });
});

describe('sortUnique', () => {
  it('sorts by (ts, msgId) in code-unit order and drops redeliveries', () => {
    const items = [
      { ts: 2, msgId: 'a' },
      { ts: 1, msgId: 'b' },
      { ts: 1, msgId: 'B' },
      { ts: 2, msgId: 'a' },
    ];
    expect(sortUnique(items)).toEqual([
      { ts: 1, msgId: 'B' },
      { ts: 1, msgId: 'b' },
      { ts: 2, msgId: 'a' },
    ]);
    expect(compareKeys({ ts: 1, msgId: 'm-10' }, { ts: 1, msgId: 'm-9' })).toBe(-1);
  });
});
