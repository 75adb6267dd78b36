/**
 * Device activity and connection state (ThingsBoard's active/inactive, plus the transport
 * session), and the end of offline periods. Opening an offline period is the sweeper's job
 * (it fires at last activity + timeout); here new activity closes it.
 */

import type { DomainEvent } from '@spms/contracts';
import type { PoolClient } from '@spms/db';
import { applyDeviceActivity, type DeviceFacts, deviceActivityState } from '@spms/outage-engine';
import { upsertAttributesSql } from './attributes.js';
import type { DeviceConfig } from './device-config.js';
import { saveLineStateSql } from './lines.js';
import type { DeviceRows } from './prepare.js';
import { msOf, toMs, tsParam } from './sql.js';
import { refreshStatusRows } from './status-snapshot.js';

/** A device's connection lost or back at `at` (its id is its type, device and time: a repeat is a no-op). */
function connectionEvent(
  type: 'device.connection_lost' | 'device.reconnected',
  deviceId: string,
  at: number,
): DomainEvent {
  return { id: `${type}/${deviceId}/${at}`, type, deviceId, occurredAt: at, payload: { at } };
}

const LOAD = `
SELECT q.d::text AS device_id, s.connection, ${msOf('s.last_activity_at')} AS la, ${msOf('s.last_connect_at')} AS lc,
       ${msOf('s.last_disconnect_at')} AS ld, s.active, ${msOf('p.started_at')} AS offline_from,
       ${msOf('s.volts_at')} AS volts_at, s.volts_msg_id, s.volts_level,
       EXISTS (SELECT 1 FROM device_offline_periods x WHERE x.device_id = q.d) AS has_periods
  FROM unnest($1::uuid[]) AS q(d)
  LEFT JOIN device_state s ON s.device_id = q.d
  LEFT JOIN device_offline_periods p ON p.device_id = q.d AND p.ended_at IS NULL`;

// One row write per device per batch, voltage state included (see processVoltage); the line
// states and client attributes ride the same statement (one round trip). Domain events are
// not written here: outbox.ts `insertEventsAndCommit` stores them in commit order at COMMIT.
const SAVE = `
WITH lines AS (${saveLineStateSql(11)}), attrs AS (${upsertAttributesSql(17)}), ds AS (
INSERT INTO device_state (device_id, active, connection, last_activity_at, last_connect_at, last_disconnect_at, inactive_since,
  volts, volts_at, volts_msg_id, volts_level)
SELECT d, a, c, ${tsParam('la')}, ${tsParam('lc')}, ${tsParam('ld')}, CASE WHEN a THEN NULL::timestamptz END,
  v, ${tsParam('vt')}, vm, vl
  FROM unnest($1::uuid[], $2::bool[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float4[], $8::float8[],
              $9::text[], $10::text[]) AS x(d, a, c, la, lc, ld, v, vt, vm, vl)
ON CONFLICT (device_id) DO UPDATE SET
  volts = COALESCE(EXCLUDED.volts, device_state.volts), volts_at = COALESCE(EXCLUDED.volts_at, device_state.volts_at),
  volts_msg_id = COALESCE(EXCLUDED.volts_msg_id, device_state.volts_msg_id),
  volts_level = COALESCE(EXCLUDED.volts_level, device_state.volts_level),
  -- only the sweeper turns a device inactive (and opens its offline period)
  active = EXCLUDED.active OR device_state.active,
  inactive_since = CASE WHEN EXCLUDED.active THEN NULL ELSE device_state.inactive_since END,
  connection = EXCLUDED.connection, last_activity_at = EXCLUDED.last_activity_at,
  last_connect_at = EXCLUDED.last_connect_at, last_disconnect_at = EXCLUDED.last_disconnect_at, updated_at = now()
) SELECT 1`; // (data-modifying CTEs run whether or not they are referenced)

const CLOSE = `
UPDATE device_offline_periods p SET ended_at = ${tsParam('x.t')}
  FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS x(d, f, t)
 WHERE p.device_id = x.d AND p.started_at = ${tsParam('x.f')} AND p.ended_at IS NULL`;
const DROP = `
DELETE FROM device_offline_periods p USING unnest($1::uuid[], $2::float8[]) AS x(d, f)
 WHERE p.device_id = x.d AND p.started_at = ${tsParam('x.f')}`;

export interface LoadedDevice {
  /** Voltage state key and level as stored (null if no sample yet). */
  voltsAt: number | null;
  voltsMsgId: string | null;
  voltsLevel: string | null;
  /** Whether the device ever had an offline period (else the engines get no windows, no query). */
  hasPeriods: boolean;
}

export interface VoltsUpdate {
  volts: number;
  ts: number;
  msgId: string;
  level: string;
}

export interface DeviceStateStep {
  events: DomainEvent[];
  loaded: Map<string, LoadedDevice>;
  /** Writes the device rows and, in the same statement, the line states and attributes; then
   *  the fleet view's rows of these devices (status-snapshot.ts): call it last in the batch. */
  save(
    client: PoolClient,
    volts: Map<string, VoltsUpdate>,
    lineRows: unknown[][],
    attributes: unknown[][],
  ): Promise<void>;
}

interface Row {
  device_id: string;
  connection: string | null;
  la: number | null;
  lc: number | null;
  ld: number | null;
  active: boolean | null;
  offline_from: number | null;
  volts_at: number | null;
  volts_msg_id: string | null;
  volts_level: string | null;
  has_periods: boolean;
}

const connectionOf = (f: DeviceFacts): 'connected' | 'disconnected' | 'lost' => {
  if (f.lastConnect !== null && (f.lastDisconnect === null || f.lastConnect > f.lastDisconnect)) return 'connected';
  return f.lastDisconnectKind === 'connection_lost' ? 'lost' : 'disconnected';
};

export async function updateDeviceState(
  client: PoolClient,
  devices: DeviceRows[],
  configs: Map<string, DeviceConfig>,
  now: number,
): Promise<DeviceStateStep> {
  const { rows } = await client.query<Row>(LOAD, [devices.map((d) => d.deviceId)]);
  const byId = new Map(rows.map((r) => [r.device_id, r]));
  const loaded = new Map<string, LoadedDevice>();
  for (const r of rows)
    loaded.set(r.device_id, {
      voltsAt: toMs(r.volts_at),
      voltsMsgId: r.volts_msg_id,
      voltsLevel: r.volts_level,
      hasPeriods: r.has_periods,
    });
  const save: unknown[][] = [[], [], [], [], [], []];
  const close: unknown[][] = [[], [], []];
  const drop: unknown[][] = [[], []];
  const events: DomainEvent[] = [];
  for (const d of devices) {
    const cfg = configs.get(d.deviceId) as DeviceConfig;
    const r = byId.get(d.deviceId);
    const before = r?.connection ?? 'disconnected';
    let facts: DeviceFacts = {
      lastActivity: toMs(r?.la),
      lastConnect: toMs(r?.lc),
      lastDisconnect: toMs(r?.ld),
      lastDisconnectKind: before === 'lost' ? 'connection_lost' : before === 'disconnected' ? 'disconnect' : null,
    };
    for (const c of d.connectivity) facts = applyDeviceActivity(facts, c.ts, c.event);
    if (d.lastActivity !== null) facts = applyDeviceActivity(facts, d.lastActivity, 'telemetry');
    const state = deviceActivityState(facts, { timeoutMs: cfg.timeoutMs, now });
    const connection = connectionOf(facts);
    if (connection === 'lost' && before !== 'lost') {
      events.push(connectionEvent('device.connection_lost', d.deviceId, facts.lastDisconnect as number));
    } else if (connection === 'connected' && before === 'lost') {
      events.push(connectionEvent('device.reconnected', d.deviceId, facts.lastConnect as number));
    }
    const from = toMs(r?.offline_from);
    if (from !== null) {
      const next = d.activity.filter((a) => a > from).reduce((m, a) => Math.min(m, a), Number.POSITIVE_INFINITY);
      if (next !== Number.POSITIVE_INFINITY) {
        // Activity within the timeout of the period's start means the period was declared from
        // a stale deadline (backlog processed late): it never was an offline period.
        if (next - from < cfg.timeoutMs) {
          drop[0]?.push(d.deviceId);
          drop[1]?.push(from);
        } else {
          close[0]?.push(d.deviceId);
          close[1]?.push(from);
          close[2]?.push(next);
        }
        events.push({
          id: `device.online/${d.deviceId}/${from}`,
          type: 'device.online',
          deviceId: d.deviceId,
          occurredAt: next,
          payload: { offlineSince: from, at: next, spurious: next - from < cfg.timeoutMs },
        });
      }
    }
    const vals = [d.deviceId, state.active, connection, facts.lastActivity, facts.lastConnect, facts.lastDisconnect];
    vals.forEach((v, i) => {
      save[i]?.push(v);
    });
  }
  if ((close[0]?.length ?? 0) > 0) await client.query(CLOSE, close);
  if ((drop[0]?.length ?? 0) > 0) await client.query(DROP, drop);
  return {
    events,
    loaded,
    async save(c, volts, lineRows, attributes) {
      const ids = save[0] as string[];
      const v = ids.map((id) => volts.get(id));
      await c.query(SAVE, [
        ...save,
        v.map((x) => x?.volts ?? null),
        v.map((x) => x?.ts ?? null),
        v.map((x) => x?.msgId ?? null),
        v.map((x) => x?.level ?? null),
        ...lineRows,
        ...attributes,
      ]);
      // A separate statement: the CTEs above all read the batch's starting snapshot.
      await refreshStatusRows(c, ids);
    },
  };
}
