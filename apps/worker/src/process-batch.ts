/**
 * One ingest batch, all devices in ONE PostgreSQL transaction that inserts the reports and
 * then takes a transaction-scoped advisory lock per device, in a global order (sorted lock keys, so two
 * batches sharing devices never deadlock). Any worker process or concurrent job touching
 * the same device waits for the lock: per-device processing is serial, whichever worker
 * runs it, while different devices proceed in parallel. Reports are inserted with ON
 * CONFLICT DO NOTHING and only what was new drives the state machines: a redelivered job
 * changes nothing. Everything a batch derives (state, outages, episodes, events) commits
 * or rolls back together, so a crash at any point is simply redone.
 */

import type { DomainEvent } from '@spms/contracts';
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import type { IngestBatch } from '@spms/queue';
import type { Deadlines } from './deadlines.js';
import { insertEventsAndCommit } from './outbox.js';
import { attributeColumns } from './persist/attributes.js';
import type { DeviceConfigCache } from './persist/device-config.js';
import { updateDeviceState } from './persist/device-state.js';
import { saveFirmwareStates } from './persist/firmware-state.js';
import { insertReportsAndLock } from './persist/insert-reports.js';
import { processLines } from './persist/lines.js';
import { writeOutageEvents } from './persist/outages-store.js';
import { type DeviceRows, type LineRow, prepareBatch, type VoltRow } from './persist/prepare.js';
import { markWholeSite } from './persist/site.js';
import { processVoltage } from './persist/voltage.js';

export interface BatchContext {
  pool: Pool;
  configs: DeviceConfigCache;
  deadlines: Deadlines;
  logger: Logger;
  saneMin: number;
  saneMax: number;
  siteWindowMs: number;
}

export interface BatchResult {
  messages: number;
  unknownDevices: number;
  /** New domain events, committed; the caller publishes them. */
  events: DomainEvent[];
}

export const LOCK_DEVICES = `SELECT pg_advisory_xact_lock(k)
  FROM (SELECT DISTINCT hashtextextended(d, 0) AS k FROM unnest($1::text[]) AS d ORDER BY 1) AS s`;

export async function processBatch(ctx: BatchContext, batch: IngestBatch, now = Date.now()): Promise<BatchResult> {
  const byDevice = prepareBatch(batch.messages, { saneMin: ctx.saneMin, saneMax: ctx.saneMax });
  const configs = await ctx.configs.get([...byDevice.keys()]);
  const devices: DeviceRows[] = [];
  let unknownDevices = 0;
  for (const d of byDevice.values()) {
    if (configs.has(d.deviceId)) devices.push(d);
    else unknownDevices++;
  }
  if (unknownDevices > 0)
    ctx.logger.warn({ unknownDevices }, 'messages for devices not in the registry (deleted?) were dropped');
  if (devices.length === 0) return { messages: batch.messages.length, unknownDevices, events: [] };
  // Deadlines (Redis) are raised whatever PostgreSQL does: even while it is down the sweeper
  // knows the device spoke. Sent now, awaited before COMMIT (one round trip less in sequence).
  const raised = ctx.deadlines.raise(
    devices
      .filter((d) => d.lastActivity !== null)
      .map((d) => [d.deviceId, (d.lastActivity as number) + (configs.get(d.deviceId)?.timeoutMs ?? 0)]),
  );
  raised.catch(() => {}); // awaited below; this only keeps an early database error from leaving it unhandled

  const client = await ctx.pool.connect();
  let events: DomainEvent[] = [];
  const t: number[] = [performance.now()];
  const mark = () => t.push(performance.now());
  try {
    await client.query('BEGIN');
    // Reports first, outside the device locks, so concurrent batches insert in parallel. Safe:
    // the state machines below run under the locks and see every committed report; a
    // duplicate insert racing another transaction waits for it (it holds no device lock yet).
    // The locks are taken at the end of the same statement (see insert-reports.ts).
    const fresh = await insertReportsAndLock(client, devices);
    mark();
    const lineRows = new Map<string, LineRow[]>();
    const voltRows = new Map<string, VoltRow[]>();
    for (const d of devices) {
      const lines = d.lines.filter((r) => fresh.lines.has(`${d.deviceId}|${r.line}|${r.msgId}`));
      if (lines.length > 0) lineRows.set(d.deviceId, lines);
      const volts = d.volts.filter((r) => fresh.volts.has(`${d.deviceId}|${r.msgId}`));
      if (volts.length > 0) voltRows.set(d.deviceId, volts);
      d.connectivity = d.connectivity.filter((r) => fresh.connectivity.has(`${d.deviceId}|${r.msgId}`));
    }
    const all: DomainEvent[] = [];
    // Device state first: it closes offline periods, which the line and voltage engines read.
    const device = await updateDeviceState(client, devices, configs, now);
    all.push(...device.events);
    mark();
    const hasPeriods = (id: string) => device.loaded.get(id)?.hasPeriods ?? false;
    // Session breaks new in this batch: lines that another transaction already processed past
    // them are recomputed (their device-time windows may have changed; see lines.ts).
    const breaks = new Map<string, number>();
    for (const d of devices) {
      const ts = d.connectivity.filter((c) => c.event !== 'activity').map((c) => c.ts);
      if (ts.length > 0) breaks.set(d.deviceId, Math.min(...ts));
    }
    // Stamped voltage readings received late can fill a device-time gap behind a line's state.
    const readings = new Map<string, number>();
    for (const [id, rows] of voltRows) {
      const stamped = rows.filter((r) => r.deviceTs).map((r) => r.ts);
      if (stamped.length > 0) readings.set(id, Math.min(...stamped));
    }
    const lines = await processLines(client, lineRows, configs, hasPeriods, breaks, readings);
    const outageEvents = lines.events;
    const changedSince = new Map<string, number>();
    all.push(...(await writeOutageEvents(client, outageEvents, configs, changedSince)));
    await markWholeSite(client, changedSince, configs, ctx.siteWindowMs);
    mark();
    const voltage = await processVoltage(client, voltRows, configs, device.loaded);
    mark();
    all.push(...voltage.events);
    await device.save(client, voltage.volts, lines.stateRows, attributeColumns(devices));
    // current_fw_* / fw_state / fw_error (telemetry or client attributes) → device_firmware.
    await saveFirmwareStates(client, devices);
    mark();
    await raised;
    // Events last, under the commit-order lock, then COMMIT (outbox.ts).
    events = await insertEventsAndCommit(client, all);
    mark();
    if (ctx.logger.isLevelEnabled('debug')) {
      const ms = t.slice(1).map((v, i) => Math.round((v - (t[i] as number)) * 10) / 10);
      // insert = reports + waiting for the device locks; save = state, attributes; commit = events + COMMIT
      const [insert, device, lines, voltage, save, commit] = ms;
      ctx.logger.debug(
        { messages: batch.messages.length, devices: devices.length, insert, device, lines, voltage, save, commit },
        'batch timings (ms)',
      );
    }
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    // A connection that failed mid-transaction must not go back to the pool.
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  client.release();
  return { messages: batch.messages.length, unknownDevices, events };
}
