/**
 * History brought over from another platform (ThingsBoard): timestamped telemetry entries
 * turned into ingest messages that take the SAME path as live data (queue → worker →
 * outage engine), plus the small per-device record the reports and importers read
 * (device_history_imports: first report time, importer progress).
 *
 * Idempotence: one message per entry timestamp, with an id derived from (device, ts). The
 * worker stores every report keyed by (device, line or kind, ts, message id) with ON
 * CONFLICT DO NOTHING, so posting the same history twice stores nothing the second time.
 * The ids are deliberately not of the gateway's form (`newMessageId`): the worker reads no
 * receive time from them (`receivedAtOfMessageId` → null), so a gap of at least the device's
 * inactivity timeout between imported readings counts as an unknown window, not as an
 * outage (apps/worker/src/persist/windows.ts): ThingsBoard kept no connectivity history to
 * prove the device was reachable across it.
 */
import { createHash } from 'node:crypto';
import type { PoolClient } from '@spms/db';
import { IMPORTED_MESSAGE_ID_PREFIX, type IngestMessage, type TelemetryValue } from '@spms/queue';
import { checkTimestamp, checkValues, interpretValues } from '@spms/telemetry';
import { AppError } from '../../core/errors.js';

/** Entries (`{"ts","values"}` items) accepted in one history request; beyond: 413. */
export const MAX_HISTORY_ENTRIES = 10_000;

export interface HistoryEntry {
  ts: number;
  values: Record<string, unknown>;
}

export interface PreparedHistory {
  messages: IngestMessage[];
  /** Distinct timestamps (one message each) and the span they cover. */
  entries: number;
  first: number;
  last: number;
}

/** Prefix of imported message ids: never 9 base36 characters, so no receive time is read from
 *  them; the worker marks what they start as source 'import' and raises no alerts for it. */
const ID_PREFIX = IMPORTED_MESSAGE_ID_PREFIX;

/** Deterministic message id of a device's history entry at `ts`. */
export function historyMessageId(deviceId: string, ts: number): string {
  const h = createHash('sha256').update(`${deviceId}|${ts}`).digest('base64url').slice(0, 16);
  return `${ID_PREFIX}${ts.toString(36)}-${h}`;
}

/**
 * Validates the entries with the device-message rules of packages/telemetry (timestamps
 * against the receive time, size bounds, line and voltage values) and builds one message
 * per distinct timestamp (entries sharing a ts are merged: ThingsBoard returns one series
 * per key). Throws a 400 naming the entry and what to fix, or 413 beyond MAX_HISTORY_ENTRIES.
 */
export function prepareHistory(deviceId: string, body: HistoryEntry | HistoryEntry[], receivedAt: number) {
  const list = Array.isArray(body) ? body : [body];
  if (list.length === 0) throw new AppError('BAD_REQUEST', 'no entries: send [{"ts": <epoch ms>, "values": {...}}]');
  if (list.length > MAX_HISTORY_ENTRIES)
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `${list.length} entries in one request (at most ${MAX_HISTORY_ENTRIES}): send the history in batches`,
    );
  const byTs = new Map<number, Record<string, TelemetryValue>>();
  for (let i = 0; i < list.length; i++) {
    const { ts, values } = list[i] as HistoryEntry;
    const where = `entry ${i}`;
    const badTs = checkTimestamp(ts, receivedAt, `${where} ts`);
    if (badTs) throw new AppError('BAD_REQUEST', badTs);
    if (Object.keys(values).length === 0) throw new AppError('BAD_REQUEST', `${where}: values is empty`);
    const vals = values as Record<string, TelemetryValue>;
    const bad = checkValues(vals, `${where} values`);
    if (bad) throw new AppError('BAD_REQUEST', bad);
    const { problems } = interpretValues(vals);
    if (problems.length > 0) throw new AppError('BAD_REQUEST', `${where}: ${problems.join('; ')}`);
    const merged = byTs.get(ts);
    byTs.set(ts, merged ? { ...merged, ...vals } : { ...vals });
  }
  const messages: IngestMessage[] = [];
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const [ts, values] of byTs) {
    first = Math.min(first, ts);
    last = Math.max(last, ts);
    // receivedAt is now: the worker judges `ts` against it as the gateway did here.
    messages.push({
      id: historyMessageId(deviceId, ts),
      deviceId,
      receivedAt,
      transport: 'http',
      kind: 'telemetry',
      entries: [{ ts, values }],
    });
  }
  return { messages, entries: byTs.size, first, last } satisfies PreparedHistory;
}

/** Keeps the device's earliest known report time (reports count its lines in service from it). */
export async function recordFirstReport(tx: PoolClient, deviceId: string, first: number): Promise<void> {
  await tx.query(
    `INSERT INTO device_history_imports (device_id, first_report_at) VALUES ($1, to_timestamp($2 / 1000.0))
     ON CONFLICT (device_id) DO UPDATE
       SET first_report_at = least(device_history_imports.first_report_at, EXCLUDED.first_report_at),
           updated_at = now()`,
    [deviceId, first],
  );
}

/**
 * Whether the worker has stored the entry at `ts` (one of a request's messages; each entry
 * leaves a line event, a voltage sample, a raw value or a rejected reading). The request's
 * messages are one ingest job, stored in one transaction: its last entry stands for all.
 */
export async function isStored(db: Pick<PoolClient, 'query'>, deviceId: string, ts: number): Promise<boolean> {
  const id = historyMessageId(deviceId, ts);
  const at = 'to_timestamp($2 / 1000.0)';
  const { rows } = await db.query(
    `SELECT EXISTS (SELECT 1 FROM voltage_samples WHERE device_id = $1 AND ts = ${at} AND msg_id = $3)
         OR EXISTS (SELECT 1 FROM line_events WHERE device_id = $1 AND line = ANY('{1,2,3,4,5,6,7,8}'::int2[]) AND ts = ${at} AND msg_id = $3)
         OR EXISTS (SELECT 1 FROM telemetry_raw WHERE device_id = $1 AND ts = ${at} AND msg_id = $3)
         OR EXISTS (SELECT 1 FROM rejected_readings WHERE device_id = $1 AND msg_id = $3) AS stored`,
    [deviceId, ts, id],
  );
  return rows[0]?.stored === true;
}

export interface ImportProgress {
  source: string | null;
  from: number | null;
  through: number | null;
  firstReportAt: number | null;
}

const ms = (d: Date | null) => (d ? d.getTime() : null);

export async function readImportProgress(db: Pick<PoolClient, 'query'>, deviceId: string): Promise<ImportProgress> {
  const { rows } = await db.query<{
    source: string | null;
    from_at: Date | null;
    through_at: Date | null;
    first_report_at: Date | null;
  }>('SELECT source, from_at, through_at, first_report_at FROM device_history_imports WHERE device_id = $1', [
    deviceId,
  ]);
  const r = rows[0];
  return {
    source: r?.source ?? null,
    from: ms(r?.from_at ?? null),
    through: ms(r?.through_at ?? null),
    firstReportAt: ms(r?.first_report_at ?? null),
  };
}

/** An importer's progress: the span [from, through] of `source` is durably queued. */
export async function saveImportProgress(
  tx: PoolClient,
  deviceId: string,
  p: { source: string; from: number; through: number },
): Promise<void> {
  if (p.through < p.from) throw new AppError('BAD_REQUEST', '`through` is before `from`');
  await tx.query(
    `INSERT INTO device_history_imports (device_id, source, from_at, through_at)
     VALUES ($1, $2, to_timestamp($3 / 1000.0), to_timestamp($4 / 1000.0))
     ON CONFLICT (device_id) DO UPDATE
       SET source = EXCLUDED.source, from_at = EXCLUDED.from_at, through_at = EXCLUDED.through_at, updated_at = now()`,
    [deviceId, p.source, p.from, p.through],
  );
}
