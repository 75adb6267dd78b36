/**
 * Fleet files: the devices a simulation drives, with the credentials they present. The same
 * fleet is exported as the registry's CSV import so the server knows the devices beforehand.
 */
import { DEVICE_CSV_COLUMNS, type DeviceCsvColumn } from '@spms/contracts';
import { createRandom, type Random, randomString } from './random.js';

export type Transport = 'mqtt' | 'http';
/** `firmware`: byte-exact deployed firmware. `buffered`: ThingsBoard-style device with `ts` and replay. */
export type Behaviour = 'firmware' | 'buffered';

export type FleetCredentials =
  | { type: 'MQTT_BASIC'; clientId: string; username: string; password: string }
  | { type: 'ACCESS_TOKEN'; token: string };

export interface FleetDevice {
  name: string;
  label?: string;
  region: string;
  customer?: string;
  profile?: string;
  latitude: number;
  longitude: number;
  transport: Transport;
  behaviour?: Behaviour;
  credentials: FleetCredentials;
  /** Labels of lines 1..8. */
  lines: string[];
}

export interface Fleet {
  devices: FleetDevice[];
}

export const DEFAULT_LINE_LABELS = ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'];

export class FleetError extends Error {
  override name = 'FleetError';
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** Checks a parsed fleet file; throws one FleetError listing every problem found (`devices[3].credentials.token: …`). */
export function validateFleet(input: unknown): Fleet {
  const errors: string[] = [];
  const list = Array.isArray(input) ? input : (input as { devices?: unknown } | null)?.devices;
  if (!Array.isArray(list)) throw new FleetError('fleet: expected {"devices": [...]} or an array of devices');
  const names = new Set<string>();
  const keys = new Set<string>();
  for (const [i, d] of (list as Record<string, unknown>[]).entries()) {
    const at = `devices[${i}]`;
    if (typeof d !== 'object' || d === null) {
      errors.push(`${at}: expected an object`);
      continue;
    }
    if (!str(d.name)) errors.push(`${at}.name: required string`);
    else if (names.has(d.name)) errors.push(`${at}.name: duplicate "${d.name}"`);
    else names.add(d.name);
    if (!str(d.region)) errors.push(`${at}.region: required string`);
    for (const k of ['latitude', 'longitude'] as const) {
      if (typeof d[k] !== 'number' || !Number.isFinite(d[k])) errors.push(`${at}.${k}: required number`);
    }
    if (d.transport !== 'mqtt' && d.transport !== 'http') errors.push(`${at}.transport: "mqtt" or "http"`);
    if (d.behaviour !== undefined && d.behaviour !== 'firmware' && d.behaviour !== 'buffered') {
      errors.push(`${at}.behaviour: "firmware" or "buffered"`);
    }
    if (!Array.isArray(d.lines) || d.lines.length !== 8 || !d.lines.every((l) => typeof l === 'string')) {
      errors.push(`${at}.lines: 8 line labels`);
    }
    const c = d.credentials as Record<string, unknown> | undefined;
    if (c?.type === 'MQTT_BASIC') {
      if (d.transport === 'http') errors.push(`${at}.credentials: HTTP devices need ACCESS_TOKEN credentials`);
      for (const k of ['clientId', 'username', 'password'] as const) {
        if (!str(c[k])) errors.push(`${at}.credentials.${k}: required string`);
      }
      const key = `${c.clientId}|${c.username}`;
      if (keys.has(key)) errors.push(`${at}.credentials: clientId/username already used by another device`);
      keys.add(key);
    } else if (c?.type === 'ACCESS_TOKEN') {
      if (!str(c.token)) errors.push(`${at}.credentials.token: required string`);
      else if (keys.has(`token|${c.token}`)) errors.push(`${at}.credentials.token: duplicate`);
      keys.add(`token|${c.token}`);
    } else errors.push(`${at}.credentials.type: "MQTT_BASIC" or "ACCESS_TOKEN"`);
  }
  if (errors.length > 0) throw new FleetError(`invalid fleet:\n  ${errors.slice(0, 50).join('\n  ')}`);
  return { devices: list as FleetDevice[] };
}

/** Sri Lanka's nine provinces with rough bounding boxes, so generated maps look plausible. */
const PROVINCES: Array<[name: string, lat0: number, lat1: number, lon0: number, lon1: number]> = [
  ['Western', 6.45, 7.3, 79.85, 80.25],
  ['Central', 6.9, 7.6, 80.45, 81.0],
  ['Southern', 5.95, 6.45, 80.05, 81.3],
  ['Northern', 8.8, 9.8, 79.9, 80.9],
  ['Eastern', 6.9, 8.6, 81.1, 81.85],
  ['North Western', 7.3, 8.3, 79.8, 80.45],
  ['North Central', 7.7, 8.8, 80.2, 81.2],
  ['Uva', 6.3, 7.4, 80.9, 81.6],
  ['Sabaragamuwa', 6.3, 7.3, 80.2, 80.8],
];

export interface GenerateFleetOptions {
  count: number;
  regions?: number;
  /** Share of devices using the HTTP firmware (0..1), default 0. */
  httpShare?: number;
  /** Share of MQTT devices behaving as ThingsBoard-style buffered devices (0..1), default 0. */
  bufferedShare?: number;
  seed?: number;
  customer?: string;
  profile?: string;
}

function deviceName(i: number): string {
  return `${String(i).padStart(4, '0')}_MSAN`;
}

/**
 * N synthetic devices, round-robin over regions. MQTT Basic credentials are unique by
 * construction (the device index is part of client id and username) and random beyond that.
 */
export function generateFleet(opts: GenerateFleetOptions): Fleet {
  const { count, regions = 9, httpShare = 0, bufferedShare = 0, customer = 'SLT CPN', profile = 'SPMS' } = opts;
  if (!Number.isInteger(count) || count < 1) throw new FleetError('count: a positive integer');
  if (!Number.isInteger(regions) || regions < 1) throw new FleetError('regions: a positive integer');
  const rnd: Random = createRandom(opts.seed ?? Math.floor(Math.random() * 2 ** 32));
  const devices: FleetDevice[] = [];
  for (let i = 0; i < count; i++) {
    const r = i % regions;
    const box = PROVINCES[r % PROVINCES.length] as (typeof PROVINCES)[number];
    const region = regions <= PROVINCES.length ? box[0] : `Region ${r + 1}`;
    const name = deviceName(i);
    const http = rnd() < httpShare;
    const id = i.toString(36);
    const credentials: FleetCredentials = http
      ? { type: 'ACCESS_TOKEN', token: `${id}${randomString(rnd, 20)}` }
      : {
          type: 'MQTT_BASIC',
          clientId: `${name}-${randomString(rnd, 6)}`,
          username: `u${id}-${randomString(rnd, 12)}`,
          password: randomString(rnd, 24),
        };
    devices.push({
      name,
      label: `MSAN ${name.slice(0, -5)} (${region})`,
      region,
      customer,
      profile,
      latitude: round5(box[1] + rnd() * (box[2] - box[1])),
      longitude: round5(box[3] + rnd() * (box[4] - box[3])),
      transport: http ? 'http' : 'mqtt',
      ...(!http && rnd() < bufferedShare ? { behaviour: 'buffered' as const } : {}),
      credentials,
      lines: [...DEFAULT_LINE_LABELS],
    });
  }
  return { devices };
}

function round5(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

/** Columns of the registry's device CSV a fleet export leaves out: they take the registry's defaults. */
const LEFT_TO_DEFAULTS: ReadonlySet<DeviceCsvColumn> = new Set([
  'hardware_status',
  'notes',
  'inactivity_timeout_sec',
  'momentary_threshold_sec',
  'voltage_min',
  'voltage_max',
  'alert_debounce_sec',
]);

/**
 * The columns a fleet export writes: the simulator's part of the registry's device CSV
 * (@spms/contracts), in its order.
 */
export const CSV_COLUMNS: readonly DeviceCsvColumn[] = DEVICE_CSV_COLUMNS.filter((c) => !LEFT_TO_DEFAULTS.has(c));

function csvCell(v: string | number | undefined): string {
  const s = v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** RFC 4180 CSV (CRLF-free: `\n` line ends), one row per device. */
export function fleetToCsv(fleet: Fleet): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const d of fleet.devices) {
    const c = d.credentials;
    const cells: Partial<Record<DeviceCsvColumn, string | number>> = {
      name: d.name,
      label: d.label,
      region: d.region,
      customer: d.customer,
      latitude: d.latitude,
      longitude: d.longitude,
      profile: d.profile,
      credentials_type: c.type,
      token: c.type === 'ACCESS_TOKEN' ? c.token : '',
      client_id: c.type === 'MQTT_BASIC' ? c.clientId : '',
      username: c.type === 'MQTT_BASIC' ? c.username : '',
      password: c.type === 'MQTT_BASIC' ? c.password : '',
      ...Object.fromEntries(d.lines.map((label, i) => [`line_${i + 1}`, label])),
    };
    rows.push(CSV_COLUMNS.map((k) => csvCell(cells[k])).join(','));
  }
  return `${rows.join('\n')}\n`;
}
