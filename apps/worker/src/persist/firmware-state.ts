/**
 * What a device reports about its firmware, kept in device_firmware (docs/firmware-protocol.md).
 * ThingsBoard's OTA clients send `current_fw_title`, `current_fw_version`, `fw_state`
 * (QUEUED … UPDATED, FAILED) and `fw_error` as telemetry, some as client attributes: both
 * are read here, from MQTT and HTTP alike (one ingest path), in the batch's transaction.
 *
 * Newest report wins, by the entry's device time (`ts`) or else its receive time:
 * - state and error follow the newest `fw_state` report (`state_at` is its time); a new state
 *   carries its own `fw_error` or clears the old one; an `fw_error` alone sets the error if
 *   it is not older than the state;
 * - current title and version follow the newest report carrying them, unless it is older
 *   than the stored state (a replayed buffer does not roll them back).
 * An `fw_state` that is not one of ThingsBoard's values is ignored (the other keys of the
 * report still count) and counted. Redelivered batches change nothing.
 */
import type { PoolClient } from '@spms/db';
import { FIRMWARE_STATES, isFirmwareState } from '@spms/firmware';
import type { TelemetryValue } from '@spms/queue';
import type { DeviceRows } from './prepare.js';
import { tsParam } from './sql.js';

/** Process-wide, read by the metrics (metrics.ts), like the dead-letter counts. */
export const firmwareReportCounts = { applied: 0, invalidState: 0 };

interface Report {
  ts: number;
  order: string;
  values: Record<string, TelemetryValue>;
}

interface Folded {
  state: string | null;
  stateAt: number | null;
  error: string | null;
  errorAt: number | null;
  /** The error came with the newest state (it follows the state's fate in the update). */
  errorWithState: boolean;
  title: string | null;
  titleAt: number | null;
  version: string | null;
  versionAt: number | null;
}

const KEYS = ['current_fw_title', 'current_fw_version', 'fw_state', 'fw_error'] as const;
const text = (v: TelemetryValue): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : JSON.stringify(v);

function reportsOf(d: DeviceRows): Report[] {
  const out: Report[] = [];
  for (const r of d.raw)
    if (KEYS.some((k) => k in r.values))
      out.push({ ts: r.ts, order: `${r.msgId}#${String(r.entry).padStart(5, '0')}`, values: r.values });
  const attrs = new Map<string, Report>();
  for (const a of d.attributes) {
    if (!(KEYS as readonly string[]).includes(a.key)) continue;
    // One attributes message is one report.
    let r = attrs.get(a.msgId);
    if (!r) {
      r = { ts: a.ts, order: a.msgId, values: {} };
      attrs.set(a.msgId, r);
    }
    r.values[a.key] = a.value;
  }
  out.push(...attrs.values());
  return out.sort((a, b) => a.ts - b.ts || (a.order < b.order ? -1 : a.order > b.order ? 1 : 0));
}

/** The newest firmware facts of each device in the batch (no I/O). */
export function foldFirmwareReports(devices: DeviceRows[]): { rows: Map<string, Folded>; invalidStates: number } {
  const rows = new Map<string, Folded>();
  let invalidStates = 0;
  for (const d of devices) {
    const reports = reportsOf(d);
    if (reports.length === 0) continue;
    const f: Folded = {
      state: null,
      stateAt: null,
      error: null,
      errorAt: null,
      errorWithState: false,
      title: null,
      titleAt: null,
      version: null,
      versionAt: null,
    };
    for (const r of reports) {
      const v = r.values;
      let stated = false;
      if ('fw_state' in v) {
        const state = typeof v.fw_state === 'string' ? v.fw_state.trim().toUpperCase() : v.fw_state;
        if (isFirmwareState(state)) {
          f.state = state;
          f.stateAt = r.ts;
          f.error = 'fw_error' in v ? text(v.fw_error as TelemetryValue) : null;
          f.errorAt = r.ts;
          f.errorWithState = true;
          stated = true;
        } else invalidStates++;
      }
      if (!stated && 'fw_error' in v && (f.stateAt === null || r.ts >= f.stateAt)) {
        f.error = text(v.fw_error as TelemetryValue);
        f.errorAt = r.ts;
        f.errorWithState = false;
      }
      if ('current_fw_title' in v) {
        f.title = text(v.current_fw_title as TelemetryValue);
        f.titleAt = r.ts;
      }
      if ('current_fw_version' in v) {
        f.version = text(v.current_fw_version as TelemetryValue);
        f.versionAt = r.ts;
      }
    }
    if (f.stateAt !== null || f.errorAt !== null || f.titleAt !== null || f.versionAt !== null) rows.set(d.deviceId, f);
  }
  return { rows, invalidStates };
}

const NOT_OLDER = (at: string) => `(f.state_at IS NULL OR f.state_at <= ${tsParam(at)})`;
/**
 * Two states reported in the same millisecond (receive times tie; batches may commit in any
 * order): the one further along ThingsBoard's sequence wins, so UPDATED is never undone by
 * the UPDATING sent just before it.
 */
const STATES = `ARRAY[${FIRMWARE_STATES.map((x) => `'${x}'`).join(',')}]`;
const NEWER_STATE = `(f.state_at IS NULL OR f.state_at < ${tsParam('x.sa')} OR (f.state_at = ${tsParam('x.sa')}
  AND array_position(${STATES}, x.s) >= coalesce(array_position(${STATES}, f.state), 0)))`;
// A data-modifying CTE's rows are invisible to its statement: the rows exist first, then the update.
const ENSURE = `INSERT INTO device_firmware (device_id, updated_at) SELECT d, now() FROM unnest($1::uuid[]) AS d
 WHERE EXISTS (SELECT 1 FROM devices WHERE id = d)
ON CONFLICT (device_id) DO NOTHING`;
const SQL = `
WITH x AS (
  SELECT * FROM unnest($1::uuid[], $2::text[], $3::float8[], $4::text[], $5::float8[], $6::text[], $7::float8[],
                       $8::text[], $9::float8[], $10::boolean[]) AS x(d, s, sa, e, ea, t, ta, v, va, ws)
)
UPDATE device_firmware f SET
  state = CASE WHEN x.sa IS NOT NULL AND ${NEWER_STATE} THEN x.s ELSE f.state END,
  state_at = CASE WHEN x.sa IS NOT NULL AND ${NEWER_STATE} THEN ${tsParam('x.sa')} ELSE f.state_at END,
  error = CASE WHEN x.ws THEN (CASE WHEN ${NEWER_STATE} THEN x.e ELSE f.error END)
               WHEN x.ea IS NOT NULL AND ${NOT_OLDER('x.ea')} THEN x.e ELSE f.error END,
  current_title = CASE WHEN x.ta IS NOT NULL AND ${NOT_OLDER('x.ta')} THEN x.t ELSE f.current_title END,
  current_version = CASE WHEN x.va IS NOT NULL AND ${NOT_OLDER('x.va')} THEN x.v ELSE f.current_version END,
  updated_at = now()
  FROM x WHERE f.device_id = x.d`;

/** Upserts device_firmware for the batch's devices that reported firmware facts. */
export async function saveFirmwareStates(client: PoolClient, devices: DeviceRows[]): Promise<void> {
  const { rows, invalidStates } = foldFirmwareReports(devices);
  firmwareReportCounts.invalidState += invalidStates;
  if (rows.size === 0) return;
  const ids = [...rows.keys()];
  const all = [...rows.values()];
  await client.query(ENSURE, [ids]);
  await client.query(SQL, [
    ids,
    all.map((f) => f.state),
    all.map((f) => f.stateAt),
    all.map((f) => f.error),
    all.map((f) => f.errorAt),
    all.map((f) => f.title),
    all.map((f) => f.titleAt),
    all.map((f) => f.version),
    all.map((f) => f.versionAt),
    all.map((f) => f.errorWithState),
  ]);
  firmwareReportCounts.applied += rows.size;
}
