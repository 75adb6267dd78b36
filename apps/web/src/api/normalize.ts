/**
 * Turns API payloads into the dashboard's view types. The API was written in parallel with
 * the dashboard, so field names are read tolerantly here — one place to adapt if they move.
 */

export type LineState = 'powered' | 'down' | 'unknown';
export type DeviceHealth = 'ok' | 'partial' | 'offline' | 'unknown';

export interface LineStatus {
  number: number;
  label: string;
  state: LineState;
  since: number | null;
}

export interface DeviceStatus {
  id: string;
  name: string;
  label: string | null;
  region: string | null;
  lat: number | null;
  lon: number | null;
  active: boolean | null;
  connectionLost: boolean;
  lastActivityAt: number | null;
  lines: LineStatus[];
  voltage: number | null;
  voltageAt: number | null;
  openOutages: number;
  health: DeviceHealth;
  linesDown: number;
  /** Effective voltage limits (profile or device override), when the API says. */
  voltageLimits: { min: number; max: number } | null;
}

export interface Counters {
  devicesActive: number;
  devicesInactive: number;
  linesWithoutPower: number;
  openOutages: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export function pick(o: Obj, ...keys: string[]): unknown {
  for (const k of keys) if (o[k] !== undefined) return o[k];
  return undefined;
}

export function toMs(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export const DEFAULT_LABELS = ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'];

export function lineState(v: unknown): LineState {
  if (v === true || v === 'powered' || v === 'on' || v === 'up' || v === 'power' || v === 'true') return 'powered';
  if (v === false || v === 'down' || v === 'off' || v === 'unpowered' || v === 'no_power' || v === 'false')
    return 'down';
  return 'unknown';
}

export function normalizeLine(raw: unknown, i: number): LineStatus {
  const o = isObj(raw) ? raw : { powered: raw };
  const n = num(pick(o, 'number', 'line', 'lineNo')) ?? i + 1;
  return {
    number: n,
    label: str(pick(o, 'label', 'name')) ?? DEFAULT_LABELS[n - 1] ?? `Line ${n}`,
    state: lineState(pick(o, 'powered', 'state', 'power', 'value')),
    since: toMs(pick(o, 'since', 'changedAt', 'stateSince', 'lastChangeAt')),
  };
}

export function health(d: Pick<DeviceStatus, 'active' | 'lines'>): DeviceHealth {
  if (d.active === false) return 'offline';
  if (d.lines.some((l) => l.state === 'down')) return 'partial';
  if (d.active === true && d.lines.length > 0 && d.lines.every((l) => l.state === 'powered')) return 'ok';
  return 'unknown';
}

export function normalizeDevice(raw: unknown): DeviceStatus {
  const o = isObj(raw) ? raw : {};
  const inner = isObj(o.device) ? { ...o.device, ...o } : o;
  const state = isObj(inner.state) ? { ...inner, ...inner.state } : inner;
  const linesRaw = pick(state, 'lines', 'lineStates');
  let lines: LineStatus[] = [];
  if (Array.isArray(linesRaw)) lines = linesRaw.map(normalizeLine);
  else if (isObj(linesRaw))
    lines = Object.entries(linesRaw).map(([k, v]) =>
      normalizeLine(isObj(v) ? { number: Number(k), ...v } : { number: Number(k), powered: v }, Number(k) - 1),
    );
  lines.sort((a, b) => a.number - b.number);
  const volt = pick(state, 'volts', 'voltage', 'lastVoltage');
  const voltObj = isObj(volt) ? volt : null;
  const activeRaw = pick(state, 'active', 'isActive');
  const activity = pick(state, 'activity');
  const activeVal =
    typeof activeRaw === 'boolean' ? activeRaw : activity === 'active' ? true : activity === 'inactive' ? false : null;
  const outages = pick(state, 'openOutages', 'openOutageCount');
  const d = {
    id: str(pick(inner, 'id', 'deviceId')) ?? '',
    name: str(pick(inner, 'name', 'deviceName')) ?? '?',
    label: str(inner.label),
    region: str(inner.region),
    lat: num(pick(inner, 'latitude', 'lat')),
    lon: num(pick(inner, 'longitude', 'lon', 'lng')),
    active: activeVal,
    connectionLost: !!pick(state, 'connectionLost', 'connectionLostAt'),
    lastActivityAt: toMs(pick(state, 'lastActivityAt', 'lastActivity', 'lastSeenAt', 'lastSeen')),
    lines,
    voltage: voltObj ? num(pick(voltObj, 'value', 'v')) : num(volt),
    voltageAt: voltObj ? toMs(pick(voltObj, 'at', 'ts', 'time')) : toMs(pick(state, 'voltsAt', 'voltageAt')),
    openOutages: Array.isArray(outages) ? outages.length : (num(outages) ?? 0),
  };
  const eff = ((isObj(inner.profile) && isObj(inner.profile.effective) ? inner.profile.effective : null) ??
    (isObj(inner.effective) ? inner.effective : null)) as Obj | null;
  const vMin = eff ? num(eff.voltageMin) : null;
  const vMax = eff ? num(eff.voltageMax) : null;
  return {
    ...d,
    health: health(d),
    linesDown: lines.filter((l) => l.state === 'down').length,
    voltageLimits: vMin != null && vMax != null ? { min: vMin, max: vMax } : null,
  };
}

export function countersOf(devices: DeviceStatus[], raw?: unknown): Counters {
  const c = isObj(raw) ? raw : {};
  const local: Counters = {
    devicesActive: devices.filter((d) => d.active === true).length,
    devicesInactive: devices.filter((d) => d.active !== true).length,
    linesWithoutPower: devices.reduce((s, d) => s + d.linesDown, 0),
    openOutages: devices.reduce((s, d) => s + d.openOutages, 0),
  };
  return {
    devicesActive: num(pick(c, 'devicesActive', 'active')) ?? local.devicesActive,
    devicesInactive: num(pick(c, 'devicesInactive', 'inactive')) ?? local.devicesInactive,
    linesWithoutPower: num(pick(c, 'linesWithoutPower', 'linesDown', 'linesUnpowered')) ?? local.linesWithoutPower,
    openOutages: num(pick(c, 'openOutages')) ?? local.openOutages,
  };
}

/** Items of a list response: a bare array, or `{items|data|rows: [...]}`. */
export function itemsOf(body: unknown): Obj[] {
  if (Array.isArray(body)) return body.filter(isObj);
  if (isObj(body)) {
    const list = pick(body, 'items', 'data', 'rows', 'devices', 'outages', 'alerts', 'notifications', 'points');
    if (Array.isArray(list)) return list.filter(isObj);
  }
  return [];
}

export function cursorOf(body: unknown): string | null {
  return isObj(body) ? str(pick(body, 'nextCursor', 'cursor', 'next')) : null;
}
