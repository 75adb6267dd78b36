import { describe, expect, it } from 'vitest';
import { groupSiteOutages, type LineInfo } from './site-grouping.js';
import type { OutageInterval } from './types.js';

const LINES: LineInfo[] = [
  { number: 1, label: 'CEB', enabled: true },
  ...[2, 3, 4, 5, 6, 7].map((n) => ({ number: n, label: `TP ${n}`, enabled: true })),
  { number: 8, label: 'MSAN', enabled: true },
];

const o = (line: number, startedAt: number, endedAt: number | null = startedAt + 60_000): OutageInterval => ({
  line,
  startedAt,
  startMsgId: `s${line}-${startedAt}`,
  startWindow: null,
  endedAt,
  endMsgId: endedAt === null ? null : `e${line}`,
  endWindow: null,
  unknownMs: 0,
  durationMs: endedAt === null ? null : endedAt - startedAt,
  classification: endedAt === null ? null : 'momentary',
});

describe('groupSiteOutages', () => {
  it('a single TP line is a line event, not whole-site, not the utility feed', () => {
    const [g, ...rest] = groupSiteOutages([o(3, 1000)], LINES);
    expect(rest).toEqual([]);
    expect(g).toMatchObject({ scope: 'lines', siteReason: null, utilityFeedLost: false, lines: [3] });
  });

  it('the CEB line is flagged as loss of the utility feed', () => {
    expect(groupSiteOutages([o(1, 1000)], LINES)[0]).toMatchObject({ scope: 'lines', utilityFeedLost: true });
  });

  it('all enabled lines down together (one message per line, within the window) is whole-site', () => {
    const outages = [1, 2, 3, 4, 5, 6, 7].map((line) => o(line, 1000 + line * 100));
    const withDisabled = LINES.map((l) => (l.number === 8 ? { ...l, enabled: false } : l));
    const [g, ...rest] = groupSiteOutages(outages, withDisabled);
    expect(rest).toEqual([]);
    expect(g).toMatchObject({ scope: 'site', siteReason: 'all_lines', utilityFeedLost: true, startedAt: 1100 });
    expect(g?.lines).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('the cabinet line (MSAN) down is whole-site by itself', () => {
    expect(groupSiteOutages([o(8, 1000), o(2, 1500)], LINES)[0]).toMatchObject({
      scope: 'site',
      siteReason: 'cabinet_supply',
      lines: [2, 8],
    });
  });

  it('outages starting further apart than the window are separate events; open members keep it open', () => {
    const groups = groupSiteOutages([o(3, 1000), o(4, 7000, null), o(5, 11_000)], LINES, { windowMs: 5000 });
    expect(groups.map((g) => g.lines)).toEqual([[3], [4, 5]]);
    expect(groups[1]?.endedAt).toBeNull();
    expect(groups[0]?.endedAt).toBe(61_000);
  });

  it('a group is measured from its first start, so a slow trickle does not chain into one event', () => {
    const groups = groupSiteOutages([o(2, 0), o(3, 4000), o(4, 8000)], LINES, { windowMs: 5000 });
    expect(groups.map((g) => g.lines)).toEqual([[2, 3], [4]]);
  });
});
