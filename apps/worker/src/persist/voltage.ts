/**
 * Voltage samples → newest reading and under-/over-voltage episodes, through the engine.
 * Same scheme as lines: `applyVoltageSample` for samples newer than the device's newest;
 * otherwise replay from an anchor = the newest sample before the late one that lies inside
 * [min + h, max − h] (no episode can be open right after it).
 */

import type { DomainEvent } from '@spms/contracts';
import type { PoolClient } from '@spms/db';
import {
  applyVoltageSample,
  compareKeys,
  DEFAULT_VOLTAGE_LIMITS,
  diffVoltageEpisodes,
  sortUnique,
  type VoltageEpisode,
  type VoltageEvent,
  type VoltageLimits,
  type VoltageSample,
  type VoltageState,
} from '@spms/outage-engine';
import { WriteCoalescer } from './coalesce.js';
import type { DeviceConfig } from './device-config.js';
import type { LoadedDevice, VoltsUpdate } from './device-state.js';
import { type IntervalRow, intervalColumns, intervalValues, rowToInterval } from './interval-rows.js';
import type { VoltRow } from './prepare.js';
import { C, msOf, sourceOf, toMs, tsParam } from './sql.js';
import { type DeviceTimeRanges, loadDeviceTimeWindows, loadWindows, minSince, widenRange } from './windows.js';

const EPISODE_COLUMNS = `e.kind, ${intervalColumns('e')}`;

interface EpisodeRow extends IntervalRow {
  kind: 'under' | 'over';
}

const toEpisode = (r: EpisodeRow): VoltageEpisode => ({ kind: r.kind, ...rowToInterval(r) });

const LOAD_OPEN = `
SELECT e.device_id::text AS device_id, ${EPISODE_COLUMNS}
  FROM voltage_episodes e WHERE e.device_id = ANY($1::uuid[]) AND e.ended_at IS NULL`;

const LOAD_ANCHOR = `
SELECT q.d::text AS device_id, ${msOf('a.ts')} AS ts, a.msg_id
  FROM unnest($1::uuid[], $2::float8[], $3::text[], $4::float8[], $5::float8[]) AS q(d, t, m, lo, hi)
  LEFT JOIN LATERAL (
    SELECT v.ts, v.msg_id FROM voltage_samples v
     WHERE v.device_id = q.d AND v.volts BETWEEN q.lo AND q.hi
       AND (v.ts < ${tsParam('q.t')} OR (v.ts = ${tsParam('q.t')} AND v.msg_id ${C} < q.m ${C}))
     ORDER BY v.ts DESC, v.msg_id ${C} DESC LIMIT 1) a ON true`;

const LOAD_SAMPLES = `
SELECT q.d::text AS device_id, ${msOf('v.ts')} AS ts, v.msg_id, v.volts
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, t)
  JOIN voltage_samples v ON v.device_id = q.d AND (q.t IS NULL OR v.ts >= ${tsParam('q.t')})`;

const LOAD_EPISODES = `
SELECT q.d::text AS device_id, ${EPISODE_COLUMNS}
  FROM unnest($1::uuid[], $2::float8[]) AS q(d, t)
  JOIN voltage_episodes e ON e.device_id = q.d AND (q.t IS NULL OR e.started_at >= ${tsParam('q.t')})`;

const EPISODE_VALUES = `unnest($1::uuid[], $2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
  $8::float8[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::text[])
  AS x(d, k, sa, swf, swt, ea, ewf, ewt, um, dm, sm, em, prev)`;
const UPSERT = `
INSERT INTO voltage_episodes (device_id, kind, started_at, start_window_from, start_window_to, ended_at, end_window_from,
  end_window_to, unknown_ms, duration_ms, start_msg_id, end_msg_id, source)
SELECT d, k, ${tsParam('sa')}, ${tsParam('swf')}, ${tsParam('swt')}, ${tsParam('ea')}, ${tsParam('ewf')}, ${tsParam('ewt')}, um, dm, sm, em,
  ${sourceOf('sm')}
  FROM ${EPISODE_VALUES}
ON CONFLICT (device_id, start_msg_id) DO UPDATE SET kind = EXCLUDED.kind, started_at = EXCLUDED.started_at,
  start_window_from = EXCLUDED.start_window_from, start_window_to = EXCLUDED.start_window_to, ended_at = EXCLUDED.ended_at,
  end_window_from = EXCLUDED.end_window_from, end_window_to = EXCLUDED.end_window_to, unknown_ms = EXCLUDED.unknown_ms,
  duration_ms = EXCLUDED.duration_ms, end_msg_id = EXCLUDED.end_msg_id, updated_at = now()`;
const UPDATE = `
UPDATE voltage_episodes e SET kind = x.k, started_at = ${tsParam('x.sa')}, start_window_from = ${tsParam('x.swf')},
  start_window_to = ${tsParam('x.swt')}, ended_at = ${tsParam('x.ea')}, end_window_from = ${tsParam('x.ewf')},
  end_window_to = ${tsParam('x.ewt')}, unknown_ms = x.um, duration_ms = x.dm, start_msg_id = x.sm, end_msg_id = x.em,
  source = ${sourceOf('x.sm')}, updated_at = now()
  FROM ${EPISODE_VALUES} WHERE e.device_id = x.d AND e.start_msg_id = x.prev`;
const DELETE = `DELETE FROM voltage_episodes e USING unnest($1::uuid[], $2::text[]) AS x(d, sm)
 WHERE e.device_id = x.d AND e.start_msg_id = x.sm`;

export const limitsOf = (cfg: DeviceConfig): VoltageLimits => ({
  min: cfg.voltageMin,
  max: cfg.voltageMax,
  hysteresis: cfg.hysteresis,
  interruptionBelow: DEFAULT_VOLTAGE_LIMITS.interruptionBelow,
});

interface Work {
  deviceId: string;
  samples: VoltageSample[];
  state: VoltageState | null;
  newest: VoltageSample | null;
  events: VoltageEvent[];
}

/**
 * `loaded` = the device rows read at the start of the batch (voltage state lives there);
 * returns the domain events and the new voltage state per device, which the caller writes
 * with the device row (one write per device).
 */
export async function processVoltage(
  client: PoolClient,
  rows: Map<string, VoltRow[]>,
  configs: Map<string, DeviceConfig>,
  loaded: Map<string, LoadedDevice>,
): Promise<{ events: DomainEvent[]; volts: Map<string, VoltsUpdate> }> {
  const work = new Map<string, Work>();
  const deviceTime = new Set<string>(); // devices stamping their samples: device-time windows
  for (const [deviceId, list] of rows) {
    if (list.length === 0) continue;
    if (list.some((r) => r.deviceTs)) deviceTime.add(deviceId);
    const samples = sortUnique(list.map((r) => ({ ts: r.ts, volts: r.volts, msgId: r.msgId })));
    work.set(deviceId, { deviceId, samples, state: null, newest: null, events: [] });
  }
  if (work.size === 0) return { events: [], volts: new Map() };
  // Only a device whose level is not normal can have an open episode: read those only.
  const maybeOpen = [...work.keys()].filter((id) => {
    const l = loaded.get(id)?.voltsLevel;
    return l !== null && l !== undefined && l !== 'normal';
  });
  const open = new Map<string, VoltageEpisode>();
  if (maybeOpen.length > 0) {
    const { rows: eps } = await client.query<EpisodeRow & { device_id: string }>(LOAD_OPEN, [maybeOpen]);
    for (const r of eps) open.set(r.device_id, toEpisode(r));
  }
  for (const w of work.values()) {
    const l = loaded.get(w.deviceId);
    if (!l || l.voltsAt === null || l.voltsMsgId === null) continue;
    const level = (l.voltsLevel ?? 'normal') as VoltageState['level'];
    w.state = { ts: l.voltsAt, msgId: l.voltsMsgId, level, open: open.get(w.deviceId) ?? null };
  }
  const late: Work[] = [];
  const since = new Map<string, number | null>();
  const ranges: DeviceTimeRanges = new Map();
  for (const w of work.values()) {
    const first = w.samples[0] as VoltageSample;
    const last = w.samples[w.samples.length - 1] as VoltageSample;
    const timeoutMs = (configs.get(w.deviceId) as DeviceConfig).timeoutMs;
    if (w.state && compareKeys(first, w.state) < 0) late.push(w);
    else if (deviceTime.has(w.deviceId)) widenRange(ranges, w.deviceId, w.state?.ts ?? first.ts, last.ts, timeoutMs);
    else if (loaded.get(w.deviceId)?.hasPeriods) minSince(since, w.deviceId, w.state?.ts ?? first.ts);
  }
  const windows = await loadWindows(client, since);
  for (const [id, list] of await loadDeviceTimeWindows(client, ranges)) windows.set(id, list);
  for (const w of work.values()) {
    if (late.includes(w)) continue;
    const limits = limitsOf(configs.get(w.deviceId) as DeviceConfig);
    for (const s of w.samples) {
      const step = applyVoltageSample(w.state, s, limits, windows.get(w.deviceId) ?? []);
      if (step.status !== 'applied') continue;
      w.state = step.state;
      w.newest = s;
      w.events.push(...step.events);
    }
  }
  if (late.length > 0) await recomputeLate(client, late, configs, deviceTime);
  const all = [...work.values()];
  const volts = new Map<string, VoltsUpdate>();
  for (const w of all) {
    if (w.newest === null || w.state === null) continue;
    volts.set(w.deviceId, { volts: w.newest.volts, ts: w.state.ts, msgId: w.state.msgId, level: w.state.level });
  }
  return { events: await writeVoltage(client, all), volts };
}

async function recomputeLate(
  client: PoolClient,
  late: Work[],
  configs: Map<string, DeviceConfig>,
  deviceTime: Set<string>,
): Promise<void> {
  const ids = late.map((w) => w.deviceId);
  const lims = late.map((w) => limitsOf(configs.get(w.deviceId) as DeviceConfig));
  const anchors = await client.query<{ device_id: string; ts: number | null; msg_id: string | null }>(LOAD_ANCHOR, [
    ids,
    late.map((w) => (w.samples[0] as VoltageSample).ts),
    late.map((w) => (w.samples[0] as VoltageSample).msgId),
    lims.map((l) => l.min + l.hysteresis),
    lims.map((l) => l.max - l.hysteresis),
  ]);
  const anchorOf = new Map(
    anchors.rows.map((a) => [
      a.device_id,
      a.ts === null ? null : { ts: toMs(a.ts) as number, msgId: a.msg_id as string },
    ]),
  );
  const fromTs = ids.map((id) => anchorOf.get(id)?.ts ?? null);
  const since = new Map<string, number | null>();
  const ranges: DeviceTimeRanges = new Map();
  for (const [i, id] of ids.entries()) {
    if (deviceTime.has(id))
      widenRange(ranges, id, fromTs[i] ?? null, null, (configs.get(id) as DeviceConfig).timeoutMs);
    else minSince(since, id, fromTs[i] ?? null);
  }
  const samples = await client.query<{ device_id: string; ts: number; msg_id: string; volts: number }>(LOAD_SAMPLES, [
    ids,
    fromTs,
  ]);
  const episodes = await client.query<EpisodeRow & { device_id: string }>(LOAD_EPISODES, [ids, fromTs]);
  const windows = await loadWindows(client, since);
  for (const [id, list] of await loadDeviceTimeWindows(client, ranges)) windows.set(id, list);
  for (const [i, w] of late.entries()) {
    const a = anchorOf.get(w.deviceId) ?? null;
    const anchor: VoltageState | null = a ? { ...a, level: 'normal', open: null } : null;
    const history = sortUnique(
      samples.rows
        .filter((s) => s.device_id === w.deviceId)
        .map((s) => ({ ts: toMs(s.ts) as number, msgId: s.msg_id, volts: s.volts })),
    ).filter((s) => !anchor || compareKeys(s, anchor) > 0);
    const before = episodes.rows
      .filter((e) => e.device_id === w.deviceId)
      .map(toEpisode)
      .filter((e) => !anchor || compareKeys({ ts: e.startedAt, msgId: e.startMsgId }, anchor) > 0);
    let state = anchor;
    const after = new Map<string, VoltageEpisode>();
    for (const s of history) {
      const step = applyVoltageSample(state, s, lims[i] as VoltageLimits, windows.get(w.deviceId) ?? []);
      if (step.status !== 'applied') continue;
      state = step.state;
      w.newest = s;
      for (const e of step.events) if (e.type !== 'voltage.removed') after.set(e.episode.startMsgId, e.episode);
    }
    w.state = state;
    w.events = diffVoltageEpisodes(before, [...after.values()]);
  }
}

async function writeVoltage(client: PoolClient, all: Work[]): Promise<DomainEvent[]> {
  const rows = new WriteCoalescer<VoltageEpisode>();
  const domain: DomainEvent[] = [];
  for (const w of all) {
    for (const e of w.events) {
      if (e.type === 'voltage.removed') {
        rows.apply(w.deviceId, '', e.previous.startMsgId, null, null);
        domain.push(
          ev(w.deviceId, 'voltage.episode_removed', `${e.previous.startMsgId}`, e.previous.startedAt, e.previous),
        );
        continue;
      }
      const p = e.type === 'voltage.opened' ? null : e.previous;
      rows.apply(w.deviceId, '', p?.startMsgId ?? null, e.episode.startMsgId, e.episode);
      const ep = e.episode;
      if (e.type === 'voltage.opened')
        domain.push(ev(w.deviceId, 'voltage.episode_opened', ep.startMsgId, ep.startedAt, ep));
      else if (e.type === 'voltage.closed')
        domain.push(
          ev(w.deviceId, 'voltage.episode_closed', `${ep.startMsgId}/${ep.endMsgId}`, ep.endedAt ?? ep.startedAt, ep),
        );
      else
        domain.push(
          ev(
            w.deviceId,
            'voltage.episode_changed',
            `${ep.startMsgId}/${ep.startedAt}/${ep.endMsgId}/${ep.unknownMs}`,
            ep.startedAt,
            ep,
          ),
        );
    }
  }
  const { inserts, updates, deletes } = rows.writes();
  if (deletes.length > 0) await client.query(DELETE, [deletes.map((d) => d.deviceId), deletes.map((d) => d.storedKey)]);
  if (updates.length > 0)
    await client.query(
      UPDATE,
      episodeColumns(updates.map((u) => [u.deviceId, u.latest as VoltageEpisode, u.storedKey])),
    );
  if (inserts.length > 0)
    await client.query(UPSERT, episodeColumns(inserts.map((u) => [u.deviceId, u.latest as VoltageEpisode, null])));
  return domain;
}

type VoltageEventType = Extract<DomainEvent['type'], `voltage.${string}`>;

function ev(
  deviceId: string,
  type: VoltageEventType,
  key: string,
  occurredAt: number,
  episode: VoltageEpisode,
): DomainEvent<VoltageEventType> {
  return { id: `${type}/${deviceId}/${key}`, type, deviceId, occurredAt, payload: { episode } };
}

function episodeColumns(list: [string, VoltageEpisode, string | null][]): unknown[][] {
  const a: unknown[][] = Array.from({ length: 13 }, () => []);
  for (const [d, e, prev] of list) {
    const vals = [d, e.kind, ...intervalValues(e), e.startMsgId, e.endMsgId, prev];
    vals.forEach((v, i) => {
      a[i]?.push(v);
    });
  }
  return a;
}
