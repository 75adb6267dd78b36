/**
 * Alerts as operators see them (written by the worker's alerts processors): list with
 * filters, one alert with the texts that covered it and their delivery per recipient, and
 * acknowledgement. Everything goes through the principal's scope.
 */
import type { Pool, Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import type { AuditHook } from '../audit/audit.js';

export interface AlertFilters {
  status?: 'active' | 'cleared';
  acknowledged?: boolean;
  severity?: string;
  type?: string;
  deviceId?: string;
  region?: string;
  from?: string;
  to?: string;
  limit?: number;
  before?: number;
}

export interface AlertView {
  id: number;
  type: string;
  severity: string;
  status: 'ACTIVE_UNACK' | 'ACTIVE_ACK' | 'CLEARED_UNACK' | 'CLEARED_ACK';
  deviceId: string;
  deviceName: string;
  line: number | null;
  lineLabel: string | null;
  region: string | null;
  customer: string | null;
  startedAt: string;
  clearedAt: string | null;
  voided: boolean;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  /** 'sms' when acknowledged by a reply (acknowledgedBy is then 'sms:<phone>'). */
  acknowledgedVia: 'dashboard' | 'sms' | null;
  notifiedAt: string | null;
  held: boolean;
  details: Record<string, unknown>;
}

const SELECT = `
SELECT a.id::int8::float8 AS id, a.type, a.severity, a.device_id::text AS device_id, d.name AS device_name, a.line,
       l.label AS line_label, a.region, a.customer, a.started_at, a.cleared_at, a.voided, a.acknowledged_at,
       a.acknowledged_by, a.notified_at, a.held, a.details
  FROM alerts a JOIN devices d ON d.id = a.device_id
  LEFT JOIN device_lines l ON l.device_id = a.device_id AND l.number = a.line`;

type Row = Record<string, unknown> & {
  started_at: Date;
  cleared_at: Date | null;
  acknowledged_at: Date | null;
  notified_at: Date | null;
};
const iso = (d: Date | null) => (d ? d.toISOString() : null);

function toView(r: Row): AlertView {
  const cleared = r.cleared_at !== null;
  const acked = r.acknowledged_at !== null;
  return {
    id: Number(r.id),
    type: r.type as string,
    severity: r.severity as string,
    status: `${cleared ? 'CLEARED' : 'ACTIVE'}_${acked ? 'ACK' : 'UNACK'}`,
    deviceId: r.device_id as string,
    deviceName: r.device_name as string,
    line: r.line as number | null,
    lineLabel: r.line_label as string | null,
    region: r.region as string | null,
    customer: r.customer as string | null,
    startedAt: r.started_at.toISOString(),
    clearedAt: iso(r.cleared_at),
    voided: r.voided as boolean,
    acknowledgedAt: iso(r.acknowledged_at),
    acknowledgedBy: r.acknowledged_by as string | null,
    acknowledgedVia: acked ? (String(r.acknowledged_by ?? '').startsWith('sms:') ? 'sms' : 'dashboard') : null,
    notifiedAt: iso(r.notified_at),
    held: r.held as boolean,
    details: r.details as Record<string, unknown>,
  };
}

export async function listAlerts(db: Pool, scope: Scope | null, f: AlertFilters): Promise<AlertView[]> {
  const p = new SqlParams();
  const w = [scopeCondition(scope, 'd', p)];
  if (f.status === 'active') w.push('a.cleared_at IS NULL');
  if (f.status === 'cleared') w.push('a.cleared_at IS NOT NULL');
  if (f.acknowledged !== undefined) w.push(`a.acknowledged_at IS ${f.acknowledged ? 'NOT ' : ''}NULL`);
  if (f.severity) w.push(`a.severity = ${p.add(f.severity)}`);
  if (f.type) w.push(`a.type = ${p.add(f.type)}`);
  if (f.deviceId) w.push(`a.device_id = ${p.add(f.deviceId)}::uuid`);
  if (f.region) w.push(`a.region = ${p.add(f.region)}`);
  if (f.from) w.push(`a.started_at >= ${p.add(f.from)}::timestamptz`);
  if (f.to) w.push(`a.started_at < ${p.add(f.to)}::timestamptz`);
  if (f.before) w.push(`a.id < ${p.add(f.before)}`);
  const { rows } = await db.query<Row>(
    `${SELECT} WHERE ${w.join(' AND ')} ORDER BY a.id DESC LIMIT ${p.add(f.limit ?? 100)}`,
    p.values,
  );
  return rows.map(toView);
}

export async function getAlert(db: Queryable, scope: Scope | null, id: number): Promise<AlertView> {
  const p = new SqlParams();
  const { rows } = await db.query<Row>(
    `${SELECT} WHERE a.id = ${p.add(id)} AND ${scopeCondition(scope, 'd', p)}`,
    p.values,
  );
  if (!rows[0]) throw new AppError('NOT_FOUND', `no alert ${id}`);
  return toView(rows[0]);
}

/**
 * ThingsBoard's ack: ACTIVE_UNACK → ACTIVE_ACK, CLEARED_UNACK → CLEARED_ACK; acking twice
 * keeps the first. `audit` runs (with `db`, inside the caller's transaction) only when this
 * call acknowledged it: a concurrent second ack waits for the first and changes nothing.
 */
export async function acknowledgeAlert(
  db: Queryable,
  scope: Scope | null,
  id: number,
  by: string,
  audit?: AuditHook<{ before: AlertView; after: AlertView }>,
): Promise<AlertView> {
  const before = await getAlert(db, scope, id); // 404 outside the scope
  const res = await db.query(
    `UPDATE alerts SET acknowledged_at = now(), acknowledged_by = $2, updated_at = now()
      WHERE id = $1 AND acknowledged_at IS NULL`,
    [id, by],
  );
  const after = await getAlert(db, scope, id);
  if (res.rowCount === 1) await audit?.(db, { before, after });
  return after;
}
