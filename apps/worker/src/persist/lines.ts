/**
 * Line reports → line state and outages, through the engine.
 * Hot path (a report newer than the line's newest): `applyReport` on the stored O(1) state.
 * Late path (any new report older than the line's newest): recompute from an anchor = the
 * newest POWERED report before the earliest late report (no outage is open right after a
 * powered report, so nothing earlier can change), or from the first report if there is none.
 * Both paths give what in-order delivery would have given (the engine guarantees it).
 */
import type { PoolClient } from '@spms/db';
import {
  affectedOutages,
  anchorFromReport,
  applyReport,
  compareKeys,
  diffOutages,
  type LineReport,
  type LineState,
  type OutageEvent,
  type OutageInterval,
  recomputeLine,
  sortUnique,
} from '@spms/outage-engine';
import type { DeviceConfig } from './device-config.js';
import { linesToReprocess } from './line-reprocess.js';
import type { DeviceOutageEvent, OutageRow } from './outages-store.js';
import { OUTAGE_COLUMNS, rowToOutage } from './outages-store.js';
import type { LineRow } from './prepare.js';
import { C, msOf, toMs, tsParam } from './sql.js';
import { type DeviceTimeRanges, loadDeviceTimeWindows, loadWindows, minSince, widenRange } from './windows.js';

interface LineWork {
  deviceId: string;
  line: number;
  reports: LineReport[];
  state: LineState | null;
  since: number | null;
  late: boolean;
  /** Recompute from before the first report even if it is not older than the state (see LOAD_BROKEN). */
  forceLate?: boolean;
}

const LOAD_STATE = `
SELECT q.d::text AS device_id, q.l AS line, s.powered, ${msOf('s.last_ts')} AS ts, s.last_msg_id, ${msOf('s.since')} AS since,
       ${OUTAGE_COLUMNS.replaceAll('o.line', 'q.l AS oline')}
  FROM unnest($1::uuid[], $2::int2[]) AS q(d, l)
  JOIN line_state s ON s.device_id = q.d AND s.line = q.l
  LEFT JOIN outages o ON o.device_id = q.d AND o.line = q.l AND o.ended_at IS NULL`;

const LOAD_ANCHOR = `
SELECT q.d::text AS device_id, q.l AS line, ${msOf('a.ts')} AS ts, a.msg_id
  FROM unnest($1::uuid[], $2::int2[], $3::float8[], $4::text[]) AS q(d, l, t, m)
  LEFT JOIN LATERAL (
    SELECT e.ts, e.msg_id FROM line_events e
     WHERE e.device_id = q.d AND e.line = q.l AND e.powered
       AND (e.ts < ${tsParam('q.t')} OR (e.ts = ${tsParam('q.t')} AND e.msg_id ${C} < q.m ${C}))
     ORDER BY e.ts DESC, e.msg_id ${C} DESC LIMIT 1) a ON true`;

const LOAD_REPORTS = `
SELECT q.d::text AS device_id, q.l AS line, ${msOf('e.ts')} AS ts, e.msg_id, e.powered
  FROM unnest($1::uuid[], $2::int2[], $3::float8[]) AS q(d, l, t)
  JOIN line_events e ON e.device_id = q.d AND e.line = q.l AND (q.t IS NULL OR e.ts >= ${tsParam('q.t')})`;

const LOAD_OUTAGES = `
SELECT q.d::text AS device_id, ${OUTAGE_COLUMNS}
  FROM unnest($1::uuid[], $2::int2[], $3::float8[]) AS q(d, l, t)
  JOIN outages o ON o.device_id = q.d AND o.line = q.l AND (q.t IS NULL OR o.started_at >= ${tsParam('q.t')})`;

/** Upsert of line states, $N-numbered from `first` (written together with the device rows). */
export const saveLineStateSql = (first: number) => {
  const p = (i: number) => `$${first + i}`;
  return `INSERT INTO line_state (device_id, line, powered, since, last_ts, last_msg_id)
SELECT d, l, p, ${tsParam('s')}, ${tsParam('t')}, m
  FROM unnest(${p(0)}::uuid[], ${p(1)}::int2[], ${p(2)}::bool[], ${p(3)}::float8[], ${p(4)}::float8[], ${p(5)}::text[]) AS x(d, l, p, s, t, m)
ON CONFLICT (device_id, line) DO UPDATE SET powered = EXCLUDED.powered, since = EXCLUDED.since,
  last_ts = EXCLUDED.last_ts, last_msg_id = EXCLUDED.last_msg_id, updated_at = now()`;
};

const k = (d: string, l: number) => `${d}|${l}`;

/** The (ts, msgId) key of the state's newest report. */
export async function processLines(
  client: PoolClient,
  rows: Map<string, LineRow[]>,
  configs: Map<string, DeviceConfig>,
  hasPeriods: (deviceId: string) => boolean,
  /** Device → receive time of the earliest session break (connectivity event) new in this batch. */
  breaks: Map<string, number> = new Map(),
  /** Device → earliest device time of other stamped readings (voltage) new in this batch. */
  readings: Map<string, number> = new Map(),
): Promise<{ events: DeviceOutageEvent[]; stateRows: unknown[][] }> {
  const work = new Map<string, LineWork>();
  const workOf = (deviceId: string, line: number): LineWork => {
    let w = work.get(k(deviceId, line));
    if (!w) {
      w = { deviceId, line, reports: [], state: null, since: null, late: false };
      work.set(k(deviceId, line), w);
    }
    return w;
  };
  for (const [deviceId, list] of rows) {
    for (const r of list)
      workOf(deviceId, r.line).reports.push({ line: r.line, ts: r.ts, msgId: r.msgId, powered: r.powered });
  }
  // Devices that stamp their reports: their lines get device-time windows (see windows.ts).
  const deviceTime = new Set<string>();
  for (const [deviceId, list] of rows) if (list.some((r) => r.source.endsWith('+ts'))) deviceTime.add(deviceId);
  // Lines processed before something this batch brings (see line-reprocess.ts): recomputed.
  for (const r of await linesToReprocess(client, breaks, readings)) {
    const w = workOf(r.deviceId, r.line);
    w.reports.push(r.from);
    w.forceLate = true;
    deviceTime.add(r.deviceId);
  }
  if (work.size === 0) return { events: [], stateRows: [[], [], [], [], [], []] };
  const all = [...work.values()];
  const loaded = await client.query<
    OutageRow & { device_id: string; powered: boolean; ts: number; last_msg_id: string; since: number; oline: number }
  >(LOAD_STATE, [all.map((w) => w.deviceId), all.map((w) => w.line)]);
  for (const r of loaded.rows) {
    const w = work.get(k(r.device_id, r.line)) as LineWork;
    const open: OutageInterval | null = r.started_at === null ? null : rowToOutage({ ...r, line: r.line });
    w.state = { line: r.line, ts: toMs(r.ts) as number, msgId: r.last_msg_id, powered: r.powered, open };
    w.since = toMs(r.since);
  }
  const out: DeviceOutageEvent[] = [];
  const late: LineWork[] = [];
  const since = new Map<string, number | null>();
  const ranges: DeviceTimeRanges = new Map();
  for (const w of all) {
    w.reports = sortUnique(w.reports);
    const first = w.reports[0] as LineReport;
    if (w.state && (w.forceLate || compareKeys(first, w.state) < 0)) {
      w.late = true;
      late.push(w);
    } else if (deviceTime.has(w.deviceId)) {
      const last = w.reports[w.reports.length - 1] as LineReport;
      const cfg = configs.get(w.deviceId) as DeviceConfig;
      widenRange(ranges, w.deviceId, w.state?.ts ?? first.ts, last.ts, cfg.timeoutMs);
    } else if (hasPeriods(w.deviceId)) minSince(since, w.deviceId, w.state?.ts ?? first.ts);
  }
  const windows = await loadWindows(client, since);
  for (const [id, list] of await loadDeviceTimeWindows(client, ranges)) windows.set(id, list);
  for (const w of all) {
    if (w.late) continue;
    const cfg = configs.get(w.deviceId) as DeviceConfig;
    const unknown = windows.get(w.deviceId) ?? [];
    for (const r of w.reports) {
      const step = applyReport(w.state, r, unknown, { momentaryThresholdMs: cfg.momentaryMs });
      if (step.status !== 'applied') continue;
      if (!w.state || w.state.powered !== step.state.powered) w.since = r.ts;
      w.state = step.state;
      for (const event of step.events) out.push({ deviceId: w.deviceId, event });
    }
  }
  if (late.length > 0) out.push(...(await recomputeLate(client, late, configs, deviceTime)));
  const changed = all.filter((w) => w.state !== null);
  const stateRows = [
    changed.map((w) => w.deviceId),
    changed.map((w) => w.line),
    changed.map((w) => (w.state as LineState).powered),
    changed.map((w) => w.since ?? (w.state as LineState).ts),
    changed.map((w) => (w.state as LineState).ts),
    changed.map((w) => (w.state as LineState).msgId),
  ];
  return { events: out, stateRows };
}

async function recomputeLate(
  client: PoolClient,
  late: LineWork[],
  configs: Map<string, DeviceConfig>,
  deviceTime: Set<string>,
): Promise<DeviceOutageEvent[]> {
  const ids = late.map((w) => w.deviceId);
  const lines = late.map((w) => w.line);
  const anchors = await client.query<{ device_id: string; line: number; ts: number | null; msg_id: string | null }>(
    LOAD_ANCHOR,
    [ids, lines, late.map((w) => (w.reports[0] as LineReport).ts), late.map((w) => (w.reports[0] as LineReport).msgId)],
  );
  const anchorOf = new Map<string, LineReport | null>();
  for (const a of anchors.rows) {
    anchorOf.set(
      k(a.device_id, a.line),
      a.ts === null ? null : { line: a.line, ts: toMs(a.ts) as number, msgId: a.msg_id as string, powered: true },
    );
  }
  const fromTs = late.map((w) => anchorOf.get(k(w.deviceId, w.line))?.ts ?? null);
  const since = new Map<string, number | null>();
  const ranges: DeviceTimeRanges = new Map();
  for (const [i, w] of late.entries()) {
    const timeoutMs = (configs.get(w.deviceId) as DeviceConfig).timeoutMs;
    if (deviceTime.has(w.deviceId)) widenRange(ranges, w.deviceId, fromTs[i] ?? null, null, timeoutMs);
    else minSince(since, w.deviceId, fromTs[i] ?? null);
  }
  // One client runs one query at a time: sequential awaits (pg@9 drops implicit queueing).
  const reports = await client.query<{ device_id: string; line: number; ts: number; msg_id: string; powered: boolean }>(
    LOAD_REPORTS,
    [ids, lines, fromTs],
  );
  const outages = await client.query<OutageRow & { device_id: string }>(LOAD_OUTAGES, [ids, lines, fromTs]);
  const windows = await loadWindows(client, since);
  for (const [id, list] of await loadDeviceTimeWindows(client, ranges)) windows.set(id, list);
  const reportsOf = new Map<string, LineReport[]>();
  for (const r of reports.rows) {
    const key = k(r.device_id, r.line);
    const list = reportsOf.get(key) ?? [];
    list.push({ line: r.line, ts: toMs(r.ts) as number, msgId: r.msg_id, powered: r.powered });
    reportsOf.set(key, list);
  }
  const storedOf = new Map<string, OutageInterval[]>();
  for (const r of outages.rows) {
    const key = k(r.device_id, r.line);
    const list = storedOf.get(key) ?? [];
    list.push(rowToOutage(r));
    storedOf.set(key, list);
  }
  const out: DeviceOutageEvent[] = [];
  for (const w of late) {
    const key = k(w.deviceId, w.line);
    const cfg = configs.get(w.deviceId) as DeviceConfig;
    const anchorReport = anchorOf.get(key) ?? null;
    const anchor = anchorReport ? anchorFromReport(anchorReport) : null;
    const history = sortUnique(reportsOf.get(key) ?? []).filter((r) => !anchor || compareKeys(r, anchor) > 0);
    const unknown = windows.get(w.deviceId) ?? [];
    const result = recomputeLine(anchor, w.line, history, unknown, { momentaryThresholdMs: cfg.momentaryMs });
    const before = affectedOutages(storedOf.get(key) ?? [], anchor, null);
    const events: OutageEvent[] = diffOutages(before, result.outages);
    for (const event of events) out.push({ deviceId: w.deviceId, event });
    w.state = result.state;
    w.since = sinceOf(anchorReport, history);
  }
  return out;
}

/** Start of the current run of equal states, from the anchor and the reports after it. */
function sinceOf(anchor: LineReport | null, history: LineReport[]): number | null {
  let since: number | null = anchor?.ts ?? null;
  let prev: boolean | null = anchor ? true : null;
  for (const r of history) {
    if (prev !== r.powered) since = r.ts;
    prev = r.powered;
  }
  return since;
}
