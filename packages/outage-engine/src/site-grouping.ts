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
  throw new Error('not implemented');
}
