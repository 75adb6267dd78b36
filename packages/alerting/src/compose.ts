/**
 * Turns what one recipient collected in one grouping window into texts: one per kind, a
 * summary when several sites are involved (a regional storm is one text, not 37), using the
 * one-segment formatters of @spms/sms (its provider-free entry, @spms/sms/text).
 */
import {
  fitName,
  fitsOneSegment,
  formatDeviceOfflineSms,
  formatDuration,
  formatFlappingNotice,
  formatGroupSummary,
  formatLocalTime,
  formatOutageSms,
  formatRestorationSms,
  toGsmSafe,
} from '@spms/sms/text';
import type { NotifyKind } from './types.js';

export type ItemKind = NotifyKind | 'flapping';

export interface PendingItem {
  kind: ItemKind;
  alertId: string;
  site: string;
  /** Line label ('CEB'); null for device-wide alerts. */
  line: string | null;
  region: string | null;
  /** When the condition began (epoch ms). */
  since: number;
  /** When it ended, for restorations. */
  endedAt: number | null;
  /** 'under' / 'over' for voltage alerts. */
  voltage?: 'under' | 'over' | null;
  /** For flapping notices. */
  changes?: number;
  windowMs?: number;
  /** The escalation tier that put this item in the window (1 is told with the alert). */
  escalation?: number;
}

export interface ComposedText {
  kind: ItemKind;
  body: string;
  /** Alerts the text covers (for notification_alerts). */
  alertIds: string[];
}

export interface ComposeOptions {
  timeZone?: string;
  prefix?: string;
}

const ORDER: ItemKind[] = ['flapping', 'outage', 'device_offline', 'voltage', 'restoration', 'device_online'];
const RESOLVES: Partial<Record<ItemKind, ItemKind>> = { restoration: 'outage', device_online: 'device_offline' };

export function composeTexts(items: PendingItem[], opts: ComposeOptions = {}): ComposedText[] {
  // An alert that started and ended within one window: the recipient never heard of it, so
  // "restored" would be noise and "lost" would be stale. Both are dropped.
  const key = (k: ItemKind, id: string) => `${k}/${id}`;
  const have = new Set(items.map((i) => key(i.kind, i.alertId)));
  const cancelled = new Set<string>();
  for (const i of items) {
    const opens = RESOLVES[i.kind];
    if (opens && have.has(key(opens, i.alertId))) cancelled.add(i.alertId);
  }
  const live = items.filter((i) => !(cancelled.has(i.alertId) && (i.kind in RESOLVES || isOpener(i.kind))));
  const out: ComposedText[] = [];
  for (const kind of ORDER) {
    const group = dedupe(live.filter((i) => i.kind === kind));
    if (group.length === 0) continue;
    if (kind === 'flapping') {
      for (const i of group) out.push({ kind, body: textOne(i, opts), alertIds: [i.alertId] });
      continue;
    }
    out.push({ kind, body: withEscalation(group, opts), alertIds: group.map((i) => i.alertId) });
  }
  return out;
}

const textOf = (group: PendingItem[], o: ComposeOptions) =>
  group.length === 1 ? textOne(group[0] as PendingItem, o) : textMany(group[0]?.kind ?? 'outage', group, o);

/**
 * The words that say a text is an escalation, for the items a tier >= 2 put in the window
 * ('' when none did): 'ESCALATED (tier 2):' when every item came from one tier,
 * 'ESCALATED (tiers 2-3):' across tiers, and '(1 of 3, tier 2)' when only some of a grouped
 * text's alerts are escalations (the others are the recipient's own subscriptions). Once per
 * text, with a shorter form when the long one does not leave room (see withEscalation).
 */
export function escalationMarker(items: PendingItem[], short = false): string {
  const tiers = items.map((i) => i.escalation ?? 0).filter((t) => t >= 2);
  if (tiers.length === 0) return '';
  const lo = Math.min(...tiers);
  const hi = Math.max(...tiers);
  const tier = lo === hi ? `${short ? 'T' : 'tier '}${lo}` : `${short ? 'T' : 'tiers '}${lo}-${hi}`;
  if (short) return `ESCALATED ${tier}:`;
  const some = tiers.length < items.length ? `${tiers.length} of ${items.length}, ` : '';
  return `ESCALATED (${some}${tier}):`;
}

/**
 * An escalation's text leads with its marker. The marker goes into the formatters' prefix,
 * so names are shortened to keep the whole text one segment; if even that does not fit (a
 * runaway line label) the short marker is used.
 */
function withEscalation(group: PendingItem[], o: ComposeOptions): string {
  const marker = escalationMarker(group);
  if (!marker) return textOf(group, o);
  const p = o.prefix ?? 'SPMS';
  const long = textOf(group, { ...o, prefix: `${marker} ${p}` });
  if (fitsOneSegment(long)) return long;
  return textOf(group, { ...o, prefix: `${escalationMarker(group, true)} ${p}` });
}

const isOpener = (k: ItemKind) => k === 'outage' || k === 'device_offline';

function dedupe(items: PendingItem[]): PendingItem[] {
  return [...new Map(items.map((i) => [i.alertId, i])).values()].sort((a, b) => a.since - b.since);
}

function textOne(i: PendingItem, o: ComposeOptions): string {
  const since = new Date(i.since);
  const ended = new Date(i.endedAt ?? i.since);
  const f = { ...(o.timeZone ? { timeZone: o.timeZone } : {}), ...(o.prefix ? { prefix: o.prefix } : {}) };
  const p = o.prefix ?? 'SPMS';
  switch (i.kind) {
    case 'outage':
      return formatOutageSms({ site: i.site, line: i.line ?? 'Power', since }, f);
    case 'restoration':
      return formatRestorationSms(
        { site: i.site, line: i.voltage ? 'Voltage' : (i.line ?? 'Power'), since, restoredAt: ended },
        f,
      );
    case 'device_offline':
      return formatDeviceOfflineSms({ site: i.site, since }, f);
    case 'device_online': {
      const took = formatDuration(ended.getTime() - since.getTime());
      const at = formatLocalTime(ended, o.timeZone);
      return fitName((s) => `${p} OK: ${s} monitor back online after ${took} (${at})`, toGsmSafe(i.site));
    }
    case 'voltage': {
      const what = i.voltage === 'over' ? 'over-voltage' : 'under-voltage';
      return fitName(
        (s) => `${p} ALERT: ${s} - ${what} since ${formatLocalTime(since, o.timeZone)}`,
        toGsmSafe(i.site),
      );
    }
    case 'flapping':
      return formatFlappingNotice(
        { site: i.site, line: i.line ?? 'Power', changes: i.changes ?? 0, windowMs: i.windowMs ?? 0 },
        f,
      );
  }
}

function textMany(kind: ItemKind, items: PendingItem[], o: ComposeOptions): string {
  const sites = [...new Set(items.map((i) => i.site))];
  const region = toGsmSafe(items[0]?.region ?? sites[0] ?? '');
  const since = new Date(Math.min(...items.map((i) => i.since)));
  const labels = new Set(items.map((i) => i.line ?? 'Power'));
  const line = labels.size === 1 ? ([...labels][0] ?? 'Power') : 'power';
  const f = { ...(o.timeZone ? { timeZone: o.timeZone } : {}), ...(o.prefix ? { prefix: o.prefix } : {}) };
  const p = o.prefix ?? 'SPMS';
  const n = sites.length;
  const plural = (w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  if (kind === 'outage') return formatGroupSummary({ region, count: n, line, since, sites }, f);
  const at = formatLocalTime(since, o.timeZone);
  const base =
    kind === 'restoration'
      ? fitName((r) => `${p} OK: ${r}: ${plural('site')} restored`, region)
      : kind === 'device_offline'
        ? fitName((r) => `${p} ALERT: ${r}: ${plural('monitor')} offline since ${at}`, region)
        : kind === 'device_online'
          ? fitName((r) => `${p} OK: ${r}: ${plural('monitor')} back online`, region)
          : fitName((r) => `${p} ALERT: ${r}: ${plural('site')} with abnormal voltage since ${at}`, region);
  return withNames(base, sites.map(toGsmSafe));
}

/** Appends as many site names as fit in one segment; the count in `base` stays authoritative. */
function withNames(base: string, names: string[]): string {
  let best = base;
  for (let k = 1; k <= names.length; k++) {
    const rest = names.length - k;
    const candidate = `${base} (${names.slice(0, k).join(', ')}${rest > 0 ? `, +${rest} more` : ''})`;
    if (!fitsOneSegment(candidate)) break;
    best = candidate;
  }
  return best;
}
