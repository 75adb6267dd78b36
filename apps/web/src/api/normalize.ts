/**
 * Turns API answers into the dashboard's view types. The answers are typed from the API's
 * OpenAPI document (./types.ts), so a field the API renames fails the build here.
 */
import type { Answer } from './types.js';

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

/** A device of GET /api/status (the fields GET /api/devices/:id/state shares). */
export type StatusDevice = Answer<'/api/status/'>['devices'][number];
export type StatusCounters = Answer<'/api/status/'>['counters'];
/** GET /api/devices/:id/state: the status fields with the registry's position and profile limits. */
export type DeviceState = Answer<'/api/devices/{idOrName}/state'>;
/** A device of the registry (GET /api/devices, GET /api/devices/:id). */
export type RegistryDevice = Answer<'/api/devices/{idOrName}'>;

/** An instant from the API (ISO string) or a stream event (ms or ISO); null when absent or unreadable. */
export function toMs(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v) {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

const num = (v: number | null | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

const LINE_STATE: Record<StatusDevice['lines'][number]['state'], LineState> = {
  powered: 'powered',
  unpowered: 'down',
  unknown: 'unknown',
};

export function health(d: Pick<DeviceStatus, 'active' | 'lines'>): DeviceHealth {
  if (d.active === false) return 'offline';
  if (d.lines.some((l) => l.state === 'down')) return 'partial';
  if (d.active === true && d.lines.length > 0 && d.lines.every((l) => l.state === 'powered')) return 'ok';
  return 'unknown';
}

type Limits = { voltageMin: number; voltageMax: number } | null | undefined;
type Core = Omit<DeviceStatus, 'health' | 'linesDown' | 'voltageLimits'>;

function finish(d: Core, limits: Limits): DeviceStatus {
  d.lines.sort((a, b) => a.number - b.number);
  const vMin = num(limits?.voltageMin);
  const vMax = num(limits?.voltageMax);
  return {
    ...d,
    health: health(d),
    linesDown: d.lines.filter((l) => l.state === 'down').length,
    voltageLimits: vMin != null && vMax != null ? { min: vMin, max: vMax } : null,
  };
}

/** Where a device stands and its voltage limits: GET /api/status has neither (the registry does). */
interface Place {
  lat: number | null;
  lon: number | null;
  limits: Limits;
}

/** A device of GET /api/status (its place, when known, from elsewhere). */
export function fromStatus(s: StatusDevice, place: Place = { lat: null, lon: null, limits: null }): DeviceStatus {
  return finish(
    {
      id: s.id,
      name: s.name,
      label: s.label,
      region: s.region,
      lat: place.lat,
      lon: place.lon,
      active: s.active,
      connectionLost: s.connectionLost,
      lastActivityAt: toMs(s.lastActivityAt),
      lines: s.lines.map((l) => ({ number: l.line, label: l.label, state: LINE_STATE[l.state], since: toMs(l.since) })),
      voltage: num(s.volts),
      voltageAt: toMs(s.voltsAt),
      openOutages: s.openOutages,
    },
    place.limits,
  );
}

/** GET /api/devices/:id/state: the status of one device with its position and profile limits. */
export const fromState = (s: DeviceState): DeviceStatus =>
  fromStatus(s, { lat: num(s.latitude), lon: num(s.longitude), limits: s.profile.effective });

/** A registry device: no live state (activity and lines unknown). */
export function fromRegistry(r: RegistryDevice): DeviceStatus {
  return finish(
    {
      id: r.id,
      name: r.name,
      label: r.label,
      region: r.region,
      lat: num(r.latitude),
      lon: num(r.longitude),
      active: null,
      connectionLost: false,
      lastActivityAt: null,
      lines: r.lines.map((l) => ({ number: l.number, label: l.label, state: 'unknown', since: null })),
      voltage: null,
      voltageAt: null,
      openOutages: 0,
    },
    r.effective,
  );
}

/** The API's counters when it sent them, else counted from the devices held. */
export function countersOf(devices: DeviceStatus[], c?: StatusCounters): Counters {
  return {
    devicesActive: num(c?.active) ?? devices.filter((d) => d.active === true).length,
    devicesInactive: num(c?.inactive) ?? devices.filter((d) => d.active !== true).length,
    linesWithoutPower: num(c?.linesWithoutPower) ?? devices.reduce((s, d) => s + d.linesDown, 0),
    openOutages: num(c?.openOutages) ?? devices.reduce((s, d) => s + d.openOutages, 0),
  };
}
