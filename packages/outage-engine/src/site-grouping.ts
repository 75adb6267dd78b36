import type { OutageInterval } from './types.js';

export interface LineInfo {
  number: number;
  label: string;
  enabled: boolean;
}

export interface SiteEvent {
  /** 'site' = whole cabinet (all enabled lines, or the MSAN line); 'lines' = some lines. */
  scope: 'site' | 'lines';
  /** Why it is whole-site. */
  siteReason: 'all_lines' | 'cabinet_supply' | null;
  /** The utility feed (line labelled CEB) is among the lines lost. */
  utilityFeedLost: boolean;
  lines: number[];
  startedAt: number;
  /** Last end among the members; null while any member is open. */
  endedAt: number | null;
  outages: OutageInterval[];
}

export const DEFAULT_SITE_GROUP_WINDOW_MS = 5_000;

export function isUtilityFeedLabel(label: string): boolean {
  return label.trim().toUpperCase() === 'CEB';
}

export function isCabinetSupplyLabel(label: string): boolean {
  return label.trim().toUpperCase() === 'MSAN';
}

/**
 * Groups one device's outages (all lines) that started within `windowMs` of the group's
 * first start, and says whether each group is a whole-site event and whether it includes
 * the loss of the utility feed.
 */
export function groupSiteOutages(
  outages: readonly OutageInterval[],
  lines: readonly LineInfo[],
  opts?: { windowMs?: number },
): SiteEvent[] {
  const windowMs = opts?.windowMs ?? DEFAULT_SITE_GROUP_WINDOW_MS;
  const sorted = [...outages].sort((a, b) => a.startedAt - b.startedAt || a.line - b.line);
  const groups: OutageInterval[][] = [];
  for (const o of sorted) {
    const current = groups[groups.length - 1];
    const first = current?.[0];
    // Measured from the group's first start, not chained, so a storm cannot grow one group forever.
    if (current !== undefined && first !== undefined && o.startedAt - first.startedAt <= windowMs) current.push(o);
    else groups.push([o]);
  }
  const enabled = lines.filter((l) => l.enabled).map((l) => l.number);
  const labelOf = new Map(lines.map((l) => [l.number, l.label]));
  return groups.map((members) => describe(members, enabled, labelOf));
}

function describe(members: OutageInterval[], enabled: number[], labelOf: Map<number, string>): SiteEvent {
  const lines = [...new Set(members.map((o) => o.line))].sort((a, b) => a - b);
  const has = (test: (label: string) => boolean) => lines.some((n) => test(labelOf.get(n) ?? ''));
  const allLines = enabled.length > 0 && enabled.every((n) => lines.includes(n));
  const siteReason = has(isCabinetSupplyLabel) ? 'cabinet_supply' : allLines ? 'all_lines' : null;
  const open = members.some((o) => o.endedAt === null);
  return {
    scope: siteReason === null ? 'lines' : 'site',
    siteReason,
    utilityFeedLost: has(isUtilityFeedLabel),
    lines,
    startedAt: members[0]?.startedAt as number,
    endedAt: open ? null : Math.max(...members.map((o) => o.endedAt as number)),
    outages: members,
  };
}
