/**
 * Fleet status in two SQL queries (devices with their state; lines with their state and
 * open outage), assembled in memory. A line's state is `unknown` while its device is
 * inactive: the last report is then only the last *known* state (docs/domain-rules.md).
 */
import type { Pool } from '@spms/db';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export type LineStateName = 'powered' | 'unpowered' | 'unknown';
export type DeviceStateFilter = 'active' | 'inactive' | 'connection_lost' | 'outage';

/** Optional fields are left out when they say nothing (10,000 devices × 8 lines add up). */
export interface LineStatus {
  line: number;
  label: string;
  /** Present (false) only for lines not monitored. */
  enabled?: false;
  state: LineStateName;
  /** Since when the state holds: the run's first report, or (unknown) the device's inactivity start. */
  since: string | null;
  /** Last reported state; present only while the state is unknown. */
  lastKnown?: 'powered' | 'unpowered' | null;
  /** Present only while an outage is open on the line. */
  openOutage?: { id: string; startedAt: string };
}

export interface DeviceStatus {
  id: string;
  name: string;
  label: string | null;
  region: string | null;
  customer: string | null;
  active: boolean;
  connection: 'connected' | 'disconnected' | 'lost';
  connectionLost: boolean;
  lastActivityAt: string | null;
  inactiveSince: string | null;
  volts: number | null;
  voltsAt: string | null;
  voltsLevel: string | null;
  openOutages: number;
  lines: LineStatus[];
}

export interface StatusFilters {
  region?: string;
  customer?: string;
  state?: DeviceStateFilter;
}

export interface FleetStatus {
  generatedAt: string;
  counters: {
    devices: number;
    active: number;
    inactive: number;
    connectionLost: number;
    linesWithoutPower: number;
    linesUnknown: number;
    openOutages: number;
  };
  devices: DeviceStatus[];
}

/**
 * Cache key of a status answer: JSON of the sorted scope and the filters, so no two
 * different (scope, filters) pairs share a key whatever characters region or customer
 * names contain (joining with "," or "|" let region "a,b" read the cache of ["a", "b"]).
 */
export function statusCacheKey(scope: Scope | null | undefined, filters: StatusFilters): string {
  const sorted = (l: string[] | null | undefined) => (l ? [...l].sort() : null);
  return JSON.stringify([
    scope ? [sorted(scope.regions), sorted(scope.customers)] : null,
    filters.region ?? null,
    filters.customer ?? null,
    filters.state ?? null,
  ]);
}

const iso = (d: Date | string | null | undefined): string | null =>
  d == null ? null : typeof d === 'string' ? d : d.toISOString();

/** ISO 8601 UTC text straight from PostgreSQL: 80,000 rows skip a Date parse and re-format each. */
const isoSql = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Effective activity: the stored flag, re-checked against the timeout so a late sweeper never shows a dead device as active. */
export const ACTIVE_SQL = `COALESCE(s.active, false)
    AND s.last_activity_at + make_interval(secs => COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec)) > now()`;

const DEVICE_COLUMNS = `
  d.id, d.name, d.label, d.region, d.customer,
  ${ACTIVE_SQL} AS active,
  COALESCE(s.connection, 'disconnected') AS connection,
  ${isoSql('s.last_activity_at')} AS last_activity_at, ${isoSql('s.inactive_since')} AS inactive_since,
  s.volts, ${isoSql('s.volts_at')} AS volts_at, s.volts_level`;

function deviceWhere(scope: Scope | null, f: { region?: string; customer?: string }, params: SqlParams): string {
  const where = [scopeCondition(scope, 'd', params)];
  if (f.region !== undefined) where.push(`d.region = ${params.add(f.region)}`);
  if (f.customer !== undefined) where.push(`d.customer = ${params.add(f.customer)}`);
  return where.join(' AND ');
}

interface DeviceRow {
  id: string;
  name: string;
  label: string | null;
  region: string | null;
  customer: string | null;
  active: boolean;
  connection: DeviceStatus['connection'];
  last_activity_at: string | null;
  inactive_since: string | null;
  volts: number | null;
  volts_at: string | null;
  volts_level: string | null;
}

interface LineRow {
  device_id: string;
  number: number;
  label: string;
  enabled: boolean;
  powered: boolean | null;
  since: string | null;
  outage_id: string | null;
  outage_started_at: string | null;
}

function toDevice(r: DeviceRow): DeviceStatus {
  return {
    id: r.id,
    name: r.name,
    label: r.label,
    region: r.region,
    customer: r.customer,
    active: r.active,
    connection: r.connection,
    connectionLost: r.connection === 'lost',
    lastActivityAt: iso(r.last_activity_at),
    // Shown from the exact moment it became inactive (last activity + timeout) once inactive.
    inactiveSince: r.active ? null : iso(r.inactive_since),
    volts: r.volts,
    voltsAt: iso(r.volts_at),
    voltsLevel: r.volts_level,
    openOutages: 0,
    lines: [],
  };
}

function toLine(r: LineRow, device: DeviceStatus): LineStatus {
  const lastKnown = r.powered === null ? null : r.powered ? 'powered' : 'unpowered';
  const unknown = !device.active || lastKnown === null;
  const line: LineStatus = {
    line: r.number,
    label: r.label,
    state: unknown ? 'unknown' : (lastKnown as LineStateName),
    since: unknown ? (device.inactiveSince ?? device.lastActivityAt) : iso(r.since),
  };
  if (!r.enabled) line.enabled = false;
  if (unknown) line.lastKnown = lastKnown;
  if (r.outage_id) line.openOutage = { id: String(r.outage_id), startedAt: iso(r.outage_started_at) as string };
  return line;
}

// Hash joins over the whole fleet (one pass over line_state and the few open outages)
// instead of 80,000 index probes; callers sort lines per device.
const LINES_SQL = (where: string) => `
  SELECT dl.device_id, dl.number, dl.label, dl.enabled, ls.powered, ${isoSql('ls.since')} AS since,
         o.id::text AS outage_id, ${isoSql('o.started_at')} AS outage_started_at
    FROM device_lines dl
    JOIN devices d ON d.id = dl.device_id
    LEFT JOIN line_state ls ON ls.device_id = dl.device_id AND ls.line = dl.number
    LEFT JOIN (SELECT DISTINCT ON (device_id, line) device_id, line, id, started_at
                 FROM outages WHERE ended_at IS NULL
                ORDER BY device_id, line, started_at DESC) o
      ON o.device_id = dl.device_id AND o.line = dl.number
   WHERE ${where}`;

const byLine = (a: LineStatus, b: LineStatus) => a.line - b.line;

/** Devices (with lines) matching scope and filters, and the counters over them. */
export async function loadFleetStatus(pg: Pool, scope: Scope | null, filters: StatusFilters): Promise<FleetStatus> {
  const dp = new SqlParams();
  const lp = new SqlParams();
  const [devices, lines] = await Promise.all([
    pg.query<DeviceRow>(
      `SELECT ${DEVICE_COLUMNS}
         FROM devices d
         JOIN device_profiles p ON p.id = d.profile_id
         LEFT JOIN device_state s ON s.device_id = d.id
        WHERE ${deviceWhere(scope, filters, dp)}
        ORDER BY d.name`,
      dp.values,
    ),
    pg.query<LineRow>(LINES_SQL(deviceWhere(scope, filters, lp)), lp.values),
  ]);
  const byId = new Map<string, DeviceStatus>();
  for (const r of devices.rows) byId.set(r.id, toDevice(r));
  for (const r of lines.rows) {
    const device = byId.get(r.device_id);
    if (!device) continue; // registered between the two queries
    const line = toLine(r, device);
    device.lines.push(line);
    if (line.openOutage) device.openOutages += 1;
  }
  let list = [...byId.values()];
  for (const d of list) d.lines.sort(byLine);
  if (filters.state) list = list.filter((d) => matchesState(d, filters.state as DeviceStateFilter));
  const counters = {
    devices: list.length,
    active: 0,
    inactive: 0,
    connectionLost: 0,
    linesWithoutPower: 0,
    linesUnknown: 0,
    openOutages: 0,
  };
  for (const d of list) {
    if (d.active) counters.active += 1;
    else counters.inactive += 1;
    if (d.connectionLost) counters.connectionLost += 1;
    counters.openOutages += d.openOutages;
    for (const l of d.lines) {
      if (l.state === 'unpowered') counters.linesWithoutPower += 1;
      else if (l.state === 'unknown') counters.linesUnknown += 1;
    }
  }
  return { generatedAt: new Date().toISOString(), counters, devices: list };
}

function matchesState(d: DeviceStatus, state: DeviceStateFilter): boolean {
  switch (state) {
    case 'active':
      return d.active;
    case 'inactive':
      return !d.active;
    case 'connection_lost':
      return d.connectionLost;
    case 'outage':
      return d.openOutages > 0;
  }
}

export interface DeviceDetail extends DeviceStatus {
  latitude: number | null;
  longitude: number | null;
  notes: string | null;
  hardwareStatus: string;
  profile: {
    id: string;
    name: string;
    /** Device override or profile value: what the worker applies. */
    effective: {
      inactivityTimeoutSec: number;
      momentaryThresholdSec: number;
      voltageNominal: number;
      voltageMin: number;
      voltageMax: number;
      voltageHysteresis: number;
      alertDebounceSec: number;
    };
  };
}

/** One device's state and detail, or null when it does not exist or is outside the scope. */
export async function loadDeviceDetail(pg: Pool, scope: Scope | null, deviceId: string): Promise<DeviceDetail | null> {
  const dp = new SqlParams();
  const idParam = dp.add(deviceId);
  const where = `d.id = ${idParam}::uuid AND ${scopeCondition(scope, 'd', dp)}`;
  const res = await pg.query(
    `SELECT ${DEVICE_COLUMNS}, d.latitude, d.longitude, d.notes, d.hardware_status::text AS hardware_status,
            p.id AS profile_id, p.name AS profile_name,
            COALESCE(d.inactivity_timeout_sec, p.inactivity_timeout_sec) AS inactivity_timeout_sec,
            COALESCE(d.momentary_threshold_sec, p.momentary_threshold_sec) AS momentary_threshold_sec,
            p.voltage_nominal, COALESCE(d.voltage_min, p.voltage_min) AS voltage_min,
            COALESCE(d.voltage_max, p.voltage_max) AS voltage_max, p.voltage_hysteresis,
            COALESCE(d.alert_debounce_sec, p.alert_debounce_sec) AS alert_debounce_sec
       FROM devices d JOIN device_profiles p ON p.id = d.profile_id
       LEFT JOIN device_state s ON s.device_id = d.id
      WHERE ${where}`,
    dp.values,
  );
  const r = res.rows[0];
  if (!r) return null;
  const device = toDevice(r);
  const lines = await pg.query<LineRow>(LINES_SQL('dl.device_id = $1::uuid'), [deviceId]);
  for (const l of lines.rows) {
    const line = toLine(l, device);
    device.lines.push(line);
    if (line.openOutage) device.openOutages += 1;
  }
  device.lines.sort(byLine);
  return {
    ...device,
    latitude: r.latitude,
    longitude: r.longitude,
    notes: r.notes,
    hardwareStatus: r.hardware_status,
    profile: {
      id: r.profile_id,
      name: r.profile_name,
      effective: {
        inactivityTimeoutSec: r.inactivity_timeout_sec,
        momentaryThresholdSec: r.momentary_threshold_sec,
        voltageNominal: r.voltage_nominal,
        voltageMin: r.voltage_min,
        voltageMax: r.voltage_max,
        voltageHysteresis: r.voltage_hysteresis,
        alertDebounceSec: r.alert_debounce_sec,
      },
    },
  };
}
