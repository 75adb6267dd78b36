/** SQL on `alerts`: raise (idempotent by condition key), clear, void, and the device context. */

import type { Severity } from '@spms/alerting';
import type { Pool, PoolClient } from '@spms/db';

type Db = Pool | PoolClient;

export interface DeviceContext {
  deviceId: string;
  site: string;
  region: string | null;
  customer: string | null;
  debounceSec: number;
  lineLabel: string | null;
}

export async function loadDevice(db: Db, deviceId: string, line: number | null): Promise<DeviceContext | null> {
  const { rows } = await db.query<{
    site: string;
    region: string | null;
    customer: string | null;
    debounce_sec: number;
    line_label: string | null;
  }>(
    `SELECT coalesce(d.label, d.name) AS site, d.region, d.customer,
            coalesce(d.alert_debounce_sec, p.alert_debounce_sec) AS debounce_sec,
            (SELECT l.label FROM device_lines l WHERE l.device_id = d.id AND l.number = $2) AS line_label
       FROM devices d JOIN device_profiles p ON p.id = d.profile_id WHERE d.id = $1`,
    [deviceId, line],
  );
  const r = rows[0];
  if (!r) return null;
  return {
    deviceId,
    site: r.site,
    region: r.region,
    customer: r.customer,
    debounceSec: r.debounce_sec,
    lineLabel: r.line_label,
  };
}

export interface RaiseInput {
  type: 'outage' | 'device_offline' | 'voltage';
  conditionKey: string;
  severity: Severity;
  device: DeviceContext;
  line: number | null;
  startedAt: number;
  /** Already over when learnt (history filled in late): stored cleared. */
  clearedAt: number | null;
  eventId: string;
  details: Record<string, unknown>;
}

export interface AlertRow {
  id: string;
  type: 'outage' | 'device_offline' | 'voltage';
  severity: Severity;
  device_id: string;
  line: number | null;
  region: string | null;
  customer: string | null;
  started_at: Date;
  cleared_at: Date | null;
  voided: boolean;
  notified_at: Date | null;
  details: Record<string, unknown>;
}

const COLS =
  'id::text, type, severity, device_id::text, line, region, customer, started_at, cleared_at, voided, notified_at, details';

/**
 * One row per condition: a redelivered or concurrently processed event hits the unique key
 * and changes nothing. A clear that arrived before its raise (two workers) already inserted
 * the row, cleared.
 */
export async function raiseAlert(db: Db, a: RaiseInput): Promise<AlertRow> {
  // A concurrent insert that commits while this statement runs is invisible to its snapshot:
  // the next statement sees it.
  for (let attempt = 0; ; attempt++) {
    const row = await tryRaise(db, a);
    if (row || attempt > 2) return row as AlertRow;
  }
}

/** $1…$11 of an alert row's insert: raise and clear write the same columns. */
const alertValues = (a: RaiseInput) => [
  a.type,
  a.conditionKey,
  a.severity,
  a.device.deviceId,
  a.line,
  a.device.region,
  a.device.customer,
  a.startedAt,
  a.clearedAt,
  a.eventId,
  JSON.stringify(a.details),
];

async function tryRaise(db: Db, a: RaiseInput): Promise<AlertRow | undefined> {
  const { rows } = await db.query<AlertRow>(
    `WITH ins AS (
       INSERT INTO alerts (type, condition_key, severity, device_id, line, region, customer, started_at, cleared_at, start_event_id, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), $10, $11)
       ON CONFLICT (condition_key) DO NOTHING RETURNING ${COLS})
     SELECT * FROM ins UNION ALL SELECT ${COLS} FROM alerts WHERE condition_key = $2 AND NOT EXISTS (SELECT 1 FROM ins)`,
    alertValues(a),
  );
  return rows[0];
}

/** Clears the condition (creating it cleared if its raise has not been processed yet). */
export async function clearAlert(db: Db, a: RaiseInput & { clearedAt: number }): Promise<AlertRow> {
  const { rows } = await db.query<AlertRow>(
    `INSERT INTO alerts (type, condition_key, severity, device_id, line, region, customer, started_at, cleared_at, start_event_id, clear_event_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8 / 1000.0), to_timestamp($9 / 1000.0), $10, $10, $11)
     ON CONFLICT (condition_key) DO UPDATE
        SET cleared_at = coalesce(alerts.cleared_at, EXCLUDED.cleared_at),
            clear_event_id = coalesce(alerts.clear_event_id, EXCLUDED.clear_event_id),
            details = alerts.details || EXCLUDED.details, updated_at = now()
     RETURNING ${COLS}`,
    alertValues(a),
  );
  return rows[0] as AlertRow;
}

/** Late data showed the condition never happened as stored: cleared and voided, never texted again. */
export async function voidAlert(db: Db, conditionKey: string, eventId: string): Promise<void> {
  await db.query(
    `UPDATE alerts SET voided = true, cleared_at = coalesce(cleared_at, now()),
            clear_event_id = coalesce(clear_event_id, $2), updated_at = now()
      WHERE condition_key = $1`,
    [conditionKey, eventId],
  );
}

export async function getAlert(db: Db, id: string): Promise<AlertRow | null> {
  const { rows } = await db.query<AlertRow>(`SELECT ${COLS} FROM alerts WHERE id = $1`, [id]);
  return rows[0] ?? null;
}

/** Marks the alert told (once): the guard that makes a redelivered timer a no-op. */
export async function markNotified(db: Db, id: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE alerts SET notified_at = now(), held = false, updated_at = now()
      WHERE id = $1 AND notified_at IS NULL AND cleared_at IS NULL AND NOT voided`,
    [id],
  );
  return (r.rowCount ?? 0) > 0;
}

/** A restoration is texted once, and only for an alert people were told about. */
export async function markRestorationNotified(db: Db, id: string): Promise<boolean> {
  const r = await db.query(
    `UPDATE alerts SET restoration_notified_at = now(), updated_at = now()
      WHERE id = $1 AND notified_at IS NOT NULL AND cleared_at IS NOT NULL AND NOT voided
        AND restoration_notified_at IS NULL`,
    [id],
  );
  return (r.rowCount ?? 0) > 0;
}
