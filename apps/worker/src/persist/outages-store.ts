/**
 * Reading and writing outage rows, and turning the engine's outage events into domain events.
 * A row is identified by (device_id, line, start_msg_id) of its stored version.
 */
import { createHash } from 'node:crypto';
import type { DomainEvent } from '@spms/contracts';
import type { PoolClient } from '@spms/db';
import type { OutageEvent, OutageInterval } from '@spms/outage-engine';
import { WriteCoalescer } from './coalesce.js';
import type { DeviceConfig } from './device-config.js';
import { type IntervalRow, intervalColumns, intervalValues, rowToInterval } from './interval-rows.js';
import { sourceOf, tsParam } from './sql.js';

export const OUTAGE_COLUMNS = `o.line, ${intervalColumns('o')}, o.class`;

export interface OutageRow extends IntervalRow {
  line: number;
  class: string;
}

export function rowToOutage(r: OutageRow): OutageInterval {
  return {
    line: r.line,
    ...rowToInterval(r),
    classification: r.class === 'momentary' || r.class === 'sustained' ? r.class : null,
  };
}

export interface DeviceOutageEvent {
  deviceId: string;
  event: OutageEvent;
}

const COLS = 16;
const UPSERT = `
INSERT INTO outages (device_id, line, started_at, start_window_from, start_window_to, ended_at, end_window_from,
  end_window_to, unknown_ms, duration_ms, class, whole_site, utility_feed, start_msg_id, end_msg_id, source)
SELECT d, l, ${tsParam('sa')}, ${tsParam('swf')}, ${tsParam('swt')}, ${tsParam('ea')}, ${tsParam('ewf')}, ${tsParam('ewt')},
  um, dm, cl, ws, uf, sm, em, ${sourceOf('sm')}
  FROM unnest($1::uuid[], $2::int2[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[],
              $9::int8[], $10::int8[], $11::text[], $12::bool[], $13::bool[], $14::text[], $15::text[])
       AS x(d, l, sa, swf, swt, ea, ewf, ewt, um, dm, cl, ws, uf, sm, em)
ON CONFLICT (device_id, line, start_msg_id) DO UPDATE SET
  started_at = EXCLUDED.started_at, start_window_from = EXCLUDED.start_window_from,
  start_window_to = EXCLUDED.start_window_to, ended_at = EXCLUDED.ended_at, end_window_from = EXCLUDED.end_window_from,
  end_window_to = EXCLUDED.end_window_to, unknown_ms = EXCLUDED.unknown_ms, duration_ms = EXCLUDED.duration_ms,
  class = EXCLUDED.class, utility_feed = EXCLUDED.utility_feed,
  end_msg_id = EXCLUDED.end_msg_id, updated_at = now()`;

const UPDATE = `
UPDATE outages o SET started_at = ${tsParam('x.sa')}, start_window_from = ${tsParam('x.swf')},
  start_window_to = ${tsParam('x.swt')}, ended_at = ${tsParam('x.ea')}, end_window_from = ${tsParam('x.ewf')},
  end_window_to = ${tsParam('x.ewt')}, unknown_ms = x.um, duration_ms = x.dm, class = x.cl,
  utility_feed = x.uf, start_msg_id = x.sm, end_msg_id = x.em, source = ${sourceOf('x.sm')}, updated_at = now()
  FROM unnest($1::uuid[], $2::int2[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[],
              $9::int8[], $10::int8[], $11::text[], $12::bool[], $13::bool[], $14::text[], $15::text[], $16::text[])
       AS x(d, l, sa, swf, swt, ea, ewf, ewt, um, dm, cl, ws, uf, sm, em, prev)
 WHERE o.device_id = x.d AND o.line = x.l AND o.start_msg_id = x.prev`;

const DELETE = `
DELETE FROM outages o USING unnest($1::uuid[], $2::int2[], $3::text[]) AS x(d, l, sm)
 WHERE o.device_id = x.d AND o.line = x.l AND o.start_msg_id = x.sm`;

function columns(rows: { deviceId: string; o: OutageInterval; cfg: DeviceConfig; prev?: string }[]): unknown[][] {
  const a: unknown[][] = Array.from({ length: COLS }, () => []);
  for (const { deviceId, o, cfg, prev } of rows) {
    const vals = [
      deviceId,
      o.line,
      ...intervalValues(o),
      o.classification ?? 'pending',
      false,
      o.line === cfg.utilityLine,
      o.startMsgId,
      o.endMsgId,
      prev ?? null,
    ];
    vals.forEach((v, i) => {
      (a[i] as unknown[]).push(v);
    });
  }
  return a;
}

const digest = (o: OutageInterval) => createHash('sha1').update(JSON.stringify(o)).digest('hex').slice(0, 16);

/** Writes the engine's outage events and returns the matching domain events. */
export async function writeOutageEvents(
  client: PoolClient,
  items: DeviceOutageEvent[],
  configs: Map<string, DeviceConfig>,
  /** Filled with the earliest start touched per device (for the whole-site pass). */
  changedSince: Map<string, number> = new Map(),
): Promise<DomainEvent[]> {
  const rows = new WriteCoalescer<OutageInterval>();
  const domain: DomainEvent[] = [];
  for (const { deviceId, event: e } of items) {
    const cfg = configs.get(deviceId) as DeviceConfig;
    const base = `${deviceId}/`;
    if (e.type === 'outage.removed') {
      rows.apply(deviceId, String(e.previous.line), e.previous.startMsgId, null, null);
      domain.push({
        id: `outage.removed/${base}${e.previous.line}/${e.previous.startMsgId}`,
        type: 'outage.removed',
        deviceId,
        occurredAt: e.previous.startedAt,
        payload: { outage: e.previous },
      });
      continue;
    }
    const o = e.outage;
    const key = `${base}${o.line}/${o.startMsgId}`;
    const prev = e.type === 'outage.opened' ? null : (e.previous?.startMsgId ?? null);
    rows.apply(deviceId, String(o.line), prev, o.startMsgId, o);
    const id =
      e.type === 'outage.opened'
        ? `outage.opened/${key}`
        : e.type === 'outage.closed'
          ? `outage.closed/${key}/${o.endMsgId}`
          : `outage.changed/${key}/${digest(o)}`;
    const occurredAt = e.type === 'outage.closed' ? (o.endedAt ?? o.startedAt) : o.startedAt;
    const payload = {
      outage: o,
      utilityFeed: o.line === cfg.utilityLine,
      label: cfg.lines.find((l) => l.number === o.line)?.label ?? null,
      ...('previous' in e && e.previous ? { previous: e.previous } : {}),
    };
    domain.push({ id, type: e.type, deviceId, occurredAt, payload });
  }
  const { inserts, updates, deletes } = rows.writes();
  for (const { deviceId, event: e } of items) {
    // Site groups depend on starts and lines only: closing a stored outage cannot change them.
    const sameStart = e.type === 'outage.closed' && e.previous?.startMsgId === e.outage.startMsgId;
    if (sameStart && e.previous?.startedAt === e.outage.startedAt) continue;
    const starts = [
      'outage' in e ? e.outage.startedAt : Number.POSITIVE_INFINITY,
      'previous' in e && e.previous ? e.previous.startedAt : Number.POSITIVE_INFINITY,
    ];
    const start = Math.min(...starts, changedSince.get(deviceId) ?? Number.POSITIVE_INFINITY);
    if (Number.isFinite(start)) changedSince.set(deviceId, start);
  }
  const cfgOf = (id: string) => configs.get(id) as DeviceConfig;
  if (deletes.length > 0)
    await client.query(DELETE, [
      deletes.map((r) => r.deviceId),
      deletes.map((r) => Number(r.scope)),
      deletes.map((r) => r.storedKey),
    ]);
  if (updates.length > 0)
    await client.query(
      UPDATE,
      columns(
        updates.map((r) => ({
          deviceId: r.deviceId,
          o: r.latest as OutageInterval,
          cfg: cfgOf(r.deviceId),
          prev: r.storedKey as string,
        })),
      ),
    );
  if (inserts.length > 0)
    await client.query(
      UPSERT,
      columns(
        inserts.map((r) => ({ deviceId: r.deviceId, o: r.latest as OutageInterval, cfg: cfgOf(r.deviceId) })),
      ).slice(0, 15),
    );
  return domain;
}
