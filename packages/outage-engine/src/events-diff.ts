import type { DeviceActivity, DeviceStatus } from './device-state.js';
import { compareKeys } from './order.js';
import type { MsgKey, OutageEvent, OutageInterval, TimedInterval } from './types.js';
import type { VoltageEpisode, VoltageEvent } from './voltage.js';

type Change<T> =
  | { kind: 'opened'; value: T }
  | { kind: 'closed'; value: T; previous: T | null }
  | { kind: 'changed'; value: T; previous: T }
  | { kind: 'removed'; previous: T };

const startKey = (i: TimedInterval): MsgKey => ({ ts: i.startedAt, msgId: i.startMsgId });
/** Key of the report that closed it; null = still open (+∞). */
const endKey = (i: TimedInterval): MsgKey | null =>
  i.endMsgId === null ? null : { ts: i.endWindow?.to ?? (i.endedAt as number), msgId: i.endMsgId };

function overlaps(a: TimedInterval, b: TimedInterval): boolean {
  const ea = endKey(a);
  const eb = endKey(b);
  return (eb === null || compareKeys(startKey(a), eb) < 0) && (ea === null || compareKeys(startKey(b), ea) < 0);
}

/** Structural equality of plain data, key order ignored (stored rows are rebuilt by callers). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return (
    ka.length === kb.length &&
    ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
  );
}

/**
 * Matches stored (`before`) and recomputed (`after`) intervals one-to-one by overlap in
 * report order within a group (line, kind); greedy in start order. Matched and equal →
 * nothing; matched and different → closed/changed; unmatched after → opened (+ closed if
 * already closed); unmatched before → removed.
 */
function diffIntervals<T extends TimedInterval>(
  before: readonly T[],
  after: readonly T[],
  group: (i: T) => string,
): Change<T>[] {
  const byStart = (a: T, b: T) => compareKeys(startKey(a), startKey(b));
  const pending = [...before].sort(byStart);
  const matched = new Set<T>();
  const changes: Change<T>[] = [];
  const added: Change<T>[] = [];
  for (const value of [...after].sort(byStart)) {
    const previous = pending.find((b) => !matched.has(b) && group(b) === group(value) && overlaps(b, value));
    if (previous === undefined) {
      added.push({ kind: 'opened', value });
      if (value.endedAt !== null) added.push({ kind: 'closed', value, previous: null });
      continue;
    }
    matched.add(previous);
    if (sameValue(previous, value)) continue;
    if (previous.endedAt === null && value.endedAt !== null) added.push({ kind: 'closed', value, previous });
    else added.push({ kind: 'changed', value, previous });
  }
  // Removals first, so a consumer keyed by start never sees two rows with one key.
  for (const previous of pending) if (!matched.has(previous)) changes.push({ kind: 'removed', previous });
  return [...changes, ...added];
}

/**
 * Events that turn the stored intervals `before` into the recomputed `after`. Identity is
 * by overlap in report order, so an outage whose start moved earlier is 'changed', not
 * removed + opened. diff(x, x) is empty: recomputation never emits twice.
 */
export function diffOutages(before: readonly OutageInterval[], after: readonly OutageInterval[]): OutageEvent[] {
  return diffIntervals(before, after, (o) => String(o.line)).map((c): OutageEvent => {
    if (c.kind === 'opened') return { type: 'outage.opened', outage: c.value };
    if (c.kind === 'closed') return { type: 'outage.closed', outage: c.value, previous: c.previous };
    if (c.kind === 'changed') return { type: 'outage.changed', outage: c.value, previous: c.previous };
    return { type: 'outage.removed', previous: c.previous };
  });
}

export function diffVoltageEpisodes(
  before: readonly VoltageEpisode[],
  after: readonly VoltageEpisode[],
): VoltageEvent[] {
  return diffIntervals(before, after, (e) => e.kind).map((c): VoltageEvent => {
    if (c.kind === 'opened') return { type: 'voltage.opened', episode: c.value };
    if (c.kind === 'closed') return { type: 'voltage.closed', episode: c.value, previous: c.previous };
    if (c.kind === 'changed') return { type: 'voltage.changed', episode: c.value, previous: c.previous };
    return { type: 'voltage.removed', previous: c.previous };
  });
}

export type DeviceEvent =
  | { type: 'device.online'; at: number }
  | { type: 'device.offline'; at: number }
  | { type: 'device.connection_lost'; at: number }
  | { type: 'device.connection_restored'; at: number };

const ONLINE: ReadonlySet<DeviceStatus> = new Set(['active', 'connection_lost', 'disconnected']);

/**
 * Events for a change of device state, each status change once: diff(x, x) is empty, so
 * re-evaluating (a timer firing twice, a redelivered message) emits nothing.
 */
export function diffDeviceActivity(before: DeviceActivity | null, after: DeviceActivity): DeviceEvent[] {
  const was = before?.status ?? 'never_seen';
  const now = after.status;
  const events: DeviceEvent[] = [];
  const wasOnline = ONLINE.has(was);
  const isOnline = ONLINE.has(now);
  if (!wasOnline && isOnline) events.push({ type: 'device.online', at: after.lastActivity as number });
  if (wasOnline && now === 'inactive') events.push({ type: 'device.offline', at: after.inactiveAt as number });
  if (now === 'connection_lost' && was !== 'connection_lost') {
    events.push({ type: 'device.connection_lost', at: after.lastDisconnect as number });
  }
  if (was === 'connection_lost' && now === 'active') {
    events.push({ type: 'device.connection_restored', at: after.lastConnect ?? (after.lastActivity as number) });
  }
  return events;
}
