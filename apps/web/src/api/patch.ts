/**
 * Applies one stream event to the fleet status in place of a full re-fetch, so a line drop
 * shows at once even when the fleet is 10,000 devices (a full /api/status is megabytes).
 * The full status still follows a little later; events are re-applied on top of it for a
 * while because the API may answer from a cache built before the event (stale-while-revalidate).
 */
import type { FleetStatus } from './client.js';
import { type Counters, type DeviceStatus, health, toMs } from './normalize.js';

type Obj = Record<string, unknown>;

function contribution(d: DeviceStatus): Counters {
  return {
    devicesActive: d.active === true ? 1 : 0,
    devicesInactive: d.active === true ? 0 : 1,
    linesWithoutPower: d.linesDown,
    openOutages: d.openOutages,
  };
}

function patchDevice(d: DeviceStatus, type: string, payload: Obj, at: number | null): DeviceStatus | null {
  const outage = (payload.outage ?? null) as Obj | null;
  let next: DeviceStatus | null = null;
  if ((type === 'outage.opened' || type === 'outage.closed') && outage) {
    const line = Number(outage.line);
    const ended = toMs(outage.endedAt);
    const closed = type === 'outage.closed' || ended != null;
    const was = d.lines.find((l) => l.number === line)?.state;
    const now = closed ? ('powered' as const) : ('down' as const);
    const since = closed ? ended : toMs(outage.startedAt);
    const lines = d.lines.map((l) => (l.number === line ? { ...l, state: now, since: since ?? l.since } : l));
    // Idempotent: applying the same event twice (see live.ts, re-applied after a fetch) is a no-op.
    const delta = was === now ? 0 : now === 'down' ? 1 : was === 'down' ? -1 : 0;
    const openOutages = Math.max(0, d.openOutages + delta);
    next = { ...d, lines, openOutages };
  } else if (type === 'device.offline' || type === 'device.online') {
    next = {
      ...d,
      active: type === 'device.online',
      lastActivityAt: type === 'device.online' ? (at ?? d.lastActivityAt) : d.lastActivityAt,
    };
  }
  if (!next) return null;
  const linesDown = next.active === false ? 0 : next.lines.filter((l) => l.state === 'down').length;
  return { ...next, linesDown, health: health(next) };
}

/**
 * A new status with the events applied in order (the same status when none applies): one
 * copy of the device list and one index for them all, so re-applying the last seconds of a
 * 100-changes-a-second stream to a fetched fleet of 10,000 costs one pass, not one per event.
 */
export function applyEvents(
  status: FleetStatus,
  events: readonly { type: string; deviceId: string | null; data: Obj }[],
): FleetStatus {
  let devices: DeviceStatus[] | null = null;
  let index: Map<string, number> | null = null;
  const c = { ...status.counters };
  for (const e of events) {
    if (!e.deviceId) continue;
    index ??= new Map(status.devices.map((d, i) => [d.id, i]));
    const i = index.get(e.deviceId);
    if (i === undefined) continue;
    const before = (devices ?? status.devices)[i] as DeviceStatus;
    const after = patchDevice(before, e.type, (e.data.payload ?? {}) as Obj, toMs(e.data.occurredAt));
    if (!after) continue;
    devices ??= status.devices.slice();
    devices[i] = after;
    const b = contribution(before);
    const a = contribution(after);
    c.devicesActive += a.devicesActive - b.devicesActive;
    c.devicesInactive += a.devicesInactive - b.devicesInactive;
    c.linesWithoutPower += a.linesWithoutPower - b.linesWithoutPower;
    c.openOutages += a.openOutages - b.openOutages;
  }
  return devices ? { ...status, devices, counters: c } : status;
}

/** A new status with the event applied, or null when the event is not one we can apply. */
export function applyEvent(
  status: FleetStatus,
  e: { type: string; deviceId: string | null; data: Obj },
): FleetStatus | null {
  if (!e.deviceId) return null;
  const i = status.devices.findIndex((d) => d.id === e.deviceId);
  const before = status.devices[i];
  if (!before) return null;
  const payload = (e.data.payload ?? {}) as Obj;
  const after = patchDevice(before, e.type, payload, toMs(e.data.occurredAt));
  if (!after) return null;
  const devices = status.devices.slice();
  devices[i] = after;
  const b = contribution(before);
  const a = contribution(after);
  const c = status.counters;
  return {
    ...status,
    devices,
    counters: {
      devicesActive: c.devicesActive + a.devicesActive - b.devicesActive,
      devicesInactive: c.devicesInactive + a.devicesInactive - b.devicesInactive,
      linesWithoutPower: c.linesWithoutPower + a.linesWithoutPower - b.linesWithoutPower,
      openOutages: c.openOutages + a.openOutages - b.openOutages,
    },
  };
}
