import { describe, expect, it } from 'vitest';
import { computeUnknownWindows, unknownFrom, unknownWindowBefore } from './unknown-windows.js';

describe('computeUnknownWindows', () => {
  it('a silence of at least the timeout is unknown from the last activity to the next one', () => {
    expect(computeUnknownWindows([0, 30, 60, 500, 530], 120)).toEqual([{ from: 60, to: 500 }]);
  });

  it('accepts activity in any order with duplicates', () => {
    expect(computeUnknownWindows([530, 60, 0, 500, 30, 60], 120)).toEqual([{ from: 60, to: 500 }]);
  });

  it('a gap of exactly the timeout is a window (inactive at exactly the timeout); one ms less is not', () => {
    expect(computeUnknownWindows([0, 120], 120)).toEqual([{ from: 0, to: 120 }]);
    expect(computeUnknownWindows([0, 119], 120)).toEqual([]);
  });

  it('with now, a silence still running is an open window', () => {
    expect(computeUnknownWindows([0, 30], 120, 150)).toEqual([{ from: 30, to: null }]);
    expect(computeUnknownWindows([0, 30], 120, 149)).toEqual([]);
    expect(computeUnknownWindows([], 120, 1000)).toEqual([]);
  });

  it('unknownWindowBefore gives the window a new activity closes', () => {
    expect(unknownWindowBefore(null, 100, 10)).toBeNull();
    expect(unknownWindowBefore(50, 100, 10)).toEqual({ from: 50, to: 100 });
    expect(unknownWindowBefore(95, 100, 10)).toBeNull();
  });
});

describe('unknownFrom', () => {
  it('is the start of the first window overlapping (a, b), clipped to a', () => {
    expect(unknownFrom(0, 100, [{ from: 40, to: 60 }])).toBe(40);
    expect(unknownFrom(50, 100, [{ from: 40, to: 60 }])).toBe(50);
    expect(
      unknownFrom(0, 100, [
        { from: 70, to: null },
        { from: 20, to: 30 },
      ]),
    ).toBe(20);
  });

  it('ignores windows that only touch the ends, empty windows and equal timestamps', () => {
    expect(unknownFrom(0, 100, [{ from: 100, to: 200 }])).toBeNull();
    expect(unknownFrom(100, 200, [{ from: 0, to: 100 }])).toBeNull();
    expect(unknownFrom(0, 100, [{ from: 50, to: 50 }])).toBeNull();
    expect(unknownFrom(50, 50, [{ from: 0, to: 100 }])).toBeNull();
  });
});
