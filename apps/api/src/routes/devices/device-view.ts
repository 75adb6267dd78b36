/** The API's view of a device: overrides next to effective values, credentials without secrets. */
import type { Prisma } from '@spms/db';
import { describeCredentials } from './credentials-request.js';
import { OVERRIDE_KEYS, type OverrideKey } from './validation.js';

const FIRMWARE_REF = { select: { id: true, title: true, version: true } } as const;

export const DEVICE_INCLUDE = {
  profile: { include: { firmware: FIRMWARE_REF } },
  lines: { orderBy: { number: 'asc' } },
  credentials: true,
  firmware: FIRMWARE_REF,
  firmwareStatus: true,
} as const satisfies Prisma.DeviceInclude;

export type DeviceRecord = Prisma.DeviceGetPayload<{ include: typeof DEVICE_INCLUDE }>;

export function toDeviceView(d: DeviceRecord) {
  const overrides = {} as Record<OverrideKey, number | null>;
  const effective = {} as Record<OverrideKey, number>;
  for (const key of OVERRIDE_KEYS) {
    overrides[key] = d[key];
    effective[key] = d[key] ?? d.profile[key];
  }
  return {
    id: d.id,
    name: d.name,
    label: d.label,
    region: d.region,
    customer: d.customer,
    latitude: d.latitude,
    longitude: d.longitude,
    notes: d.notes,
    hardwareStatus: d.hardwareStatus,
    profile: { id: d.profile.id, name: d.profile.name, transport: d.profile.transport },
    overrides,
    effective,
    lines: d.lines.map((l) => ({ number: l.number, label: l.label, enabled: l.enabled })),
    credentials: describeCredentials(d.credentials),
    firmware: firmwareView(d),
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

export type DeviceView = ReturnType<typeof toDeviceView>;

/**
 * What the device reported running (device_firmware, written from its current_fw_* and
 * fw_state telemetry) and what it should run: its own firmware, else its profile's.
 */
function firmwareView(d: DeviceRecord) {
  const s = d.firmwareStatus;
  const target = d.firmware ?? d.profile.firmware;
  return {
    current:
      s?.currentTitle != null || s?.currentVersion != null
        ? { title: s?.currentTitle ?? null, version: s?.currentVersion ?? null }
        : null,
    target: target ? { id: target.id, title: target.title, version: target.version } : null,
    targetFrom: d.firmware ? ('device' as const) : d.profile.firmware ? ('profile' as const) : null,
    state: s?.state ?? null,
    error: s?.error ?? null,
    stateAt: s?.stateAt ? s.stateAt.toISOString() : null,
  };
}
