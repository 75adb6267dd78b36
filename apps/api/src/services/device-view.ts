/** The API's view of a device: overrides next to effective values, credentials without secrets. */
import type { Prisma } from '@spms/db';
import { describeCredentials } from './credentials.js';
import { OVERRIDE_KEYS, type OverrideKey } from './validation.js';

export const DEVICE_INCLUDE = {
  profile: true,
  lines: { orderBy: { number: 'asc' } },
  credentials: true,
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
    createdAt: d.createdAt.toISOString(),
    updatedAt: d.updatedAt.toISOString(),
  };
}

export type DeviceView = ReturnType<typeof toDeviceView>;
