/**
 * Stores every report of a batch in one round-trip (bulk `unnest` inserts chained as CTEs)
 * with ON CONFLICT DO NOTHING: a message already stored (redelivered job) is skipped, and
 * only what is new comes back — the rest of the pipeline works from that.
 *
 * The same statement then takes the batch's device locks (`lk`, same order as LOCK_DEVICES),
 * strictly AFTER every insert has finished (its filter reads every insert CTE first): an
 * insert that waits for another transaction's duplicate row still holds no device lock, as
 * when the lock was a statement of its own, so this saves a round trip without new
 * deadlocks. The next statement (a new snapshot in READ COMMITTED) sees everything committed
 * by the previous holder of the locks.
 */
import type { PoolClient } from '@spms/db';
import type { DeviceRows } from './prepare.js';

const SQL = `
WITH le AS (
  INSERT INTO line_events (device_id, line, ts, powered, source, msg_id, received_at)
  SELECT d, l, to_timestamp(t / 1000.0), p, s, m, to_timestamp(r / 1000.0)
    FROM unnest($1::uuid[], $2::int2[], $3::float8[], $4::bool[], $5::text[], $6::text[], $7::float8[]) AS x(d, l, t, p, s, m, r)
  ON CONFLICT DO NOTHING RETURNING device_id, line, msg_id
), vs AS (
  INSERT INTO voltage_samples (device_id, ts, volts, msg_id)
  SELECT d, to_timestamp(t / 1000.0), v, m FROM unnest($8::uuid[], $9::float8[], $10::float4[], $11::text[]) AS x(d, t, v, m)
  ON CONFLICT DO NOTHING RETURNING device_id, msg_id
), tr AS (
  INSERT INTO telemetry_raw (device_id, ts, msg_id, entry, "values")
  SELECT d, to_timestamp(t / 1000.0), m, e, j::jsonb FROM unnest($12::uuid[], $13::float8[], $14::text[], $15::int2[], $16::text[]) AS x(d, t, m, e, j)
  ON CONFLICT DO NOTHING RETURNING 1
), dc AS (
  INSERT INTO device_connectivity (device_id, ts, event, msg_id, detail)
  SELECT d, to_timestamp(t / 1000.0), ev, m, j::jsonb FROM unnest($17::uuid[], $18::float8[], $19::text[], $20::text[], $21::text[]) AS x(d, t, ev, m, j)
  ON CONFLICT DO NOTHING RETURNING device_id, msg_id
), rr AS (
  INSERT INTO rejected_readings (device_id, ts, msg_id, key, value, reason)
  SELECT d, to_timestamp(t / 1000.0), m, k, j::jsonb, why FROM unnest($22::uuid[], $23::float8[], $24::text[], $25::text[], $26::text[], $27::text[]) AS x(d, t, m, k, j, why)
  ON CONFLICT DO NOTHING RETURNING 1
), lk AS MATERIALIZED (
  SELECT count(pg_advisory_xact_lock(k)) AS n
    FROM (SELECT DISTINCT hashtextextended(d, 0) AS k FROM unnest($28::text[]) AS d ORDER BY 1) AS s
   WHERE (SELECT count(*) FROM le) + (SELECT count(*) FROM vs) + (SELECT count(*) FROM tr)
       + (SELECT count(*) FROM dc) + (SELECT count(*) FROM rr) >= 0
)
SELECT 'x' AS k, NULL::text AS d, NULL::int2 AS line, n::text AS msg_id FROM lk
UNION ALL SELECT 'l', device_id::text, line, msg_id FROM le
UNION ALL SELECT 'v', device_id::text, NULL, msg_id FROM vs
UNION ALL SELECT 'c', device_id::text, NULL, msg_id FROM dc`;

/** Which reports were new, by kind: keys `${deviceId}|${line}|${msgId}` and `${deviceId}|${msgId}`. */
export interface NewReports {
  lines: Set<string>;
  volts: Set<string>;
  connectivity: Set<string>;
}

/** Inserts the reports, then locks the devices (see above); returns what was new. */
export async function insertReportsAndLock(client: PoolClient, devices: DeviceRows[]): Promise<NewReports> {
  const a: unknown[][] = Array.from({ length: 27 }, () => []);
  const push = (from: number, ...vals: unknown[]) => {
    for (let i = 0; i < vals.length; i++) (a[from + i] as unknown[]).push(vals[i]);
  };
  for (const d of devices) {
    for (const r of d.lines) push(0, d.deviceId, r.line, r.ts, r.powered, r.source, r.msgId, r.receivedAt);
    for (const r of d.volts) push(7, d.deviceId, r.ts, r.volts, r.msgId);
    for (const r of d.raw) push(11, d.deviceId, r.ts, r.msgId, r.entry, JSON.stringify(r.values));
    for (const r of d.connectivity)
      push(16, d.deviceId, r.ts, r.event, r.msgId, r.detail ? JSON.stringify(r.detail) : null);
    for (const r of d.rejected) push(21, d.deviceId, r.ts, r.msgId, r.key, JSON.stringify(r.value), r.reason);
  }
  a.push(devices.map((d) => d.deviceId));
  const { rows } = await client.query<{ k: string; d: string; line: number | null; msg_id: string }>(SQL, a);
  const out: NewReports = { lines: new Set(), volts: new Set(), connectivity: new Set() };
  for (const r of rows) {
    if (r.k === 'l') out.lines.add(`${r.d}|${r.line}|${r.msg_id}`);
    else if (r.k === 'v') out.volts.add(`${r.d}|${r.msg_id}`);
    else if (r.k === 'c') out.connectivity.add(`${r.d}|${r.msg_id}`);
  }
  return out;
}
