/** ThingsBoard's device, credentials, attributes and series → what SPMS's API takes. */
import type { TbAttribute, TbCredentials, TbDevice } from './thingsboard-client.js';

/** Credentials as SPMS's device API takes them (the firmware keeps its own). */
export type SpmsCredentials =
  | { type: 'ACCESS_TOKEN'; token: string }
  | { type: 'MQTT_BASIC'; clientId: string | null; username: string | null; password: string | null };

/** The device's credentials unchanged, or why they cannot be brought over. */
export function mapCredentials(c: TbCredentials | null): { credentials?: SpmsCredentials; warning?: string } {
  if (!c) return { warning: 'ThingsBoard did not reveal the credentials: set them in SPMS (spms credentials rotate)' };
  if (c.credentialsType === 'ACCESS_TOKEN') {
    if (!c.credentialsId) return { warning: 'ThingsBoard returned an empty access token: set one in SPMS' };
    return { credentials: { type: 'ACCESS_TOKEN', token: c.credentialsId } };
  }
  if (c.credentialsType === 'MQTT_BASIC') {
    let v: { clientId?: string | null; userName?: string | null; password?: string | null };
    try {
      v = JSON.parse(c.credentialsValue ?? '') as typeof v;
    } catch {
      return { warning: 'ThingsBoard returned unreadable MQTT Basic credentials: set them in SPMS' };
    }
    return {
      credentials: {
        type: 'MQTT_BASIC',
        clientId: v.clientId || null,
        username: v.userName || null,
        password: v.password || null,
      },
    };
  }
  return { warning: `${c.credentialsType} credentials are not supported by SPMS: set new ones in SPMS` };
}

export interface MappedFields {
  label?: string;
  customer?: string;
  latitude?: number;
  longitude?: number;
  lineLabels?: Record<string, string>;
  /** ThingsBoard's per-device `inactivityTimeout` server attribute (ms), in seconds. */
  inactivityTimeoutSec?: number;
}

const LINE_LABEL = /^line[_ ]?([1-8])(?:[_ ]?label)?$/i;

/** Location and line labels from attributes (server scope wins over shared and client). */
export function mapFields(device: TbDevice, attributes: TbAttribute[]): MappedFields {
  const out: MappedFields = {};
  if (device.label) out.label = device.label;
  if (device.customerTitle) out.customer = device.customerTitle;
  const labels: Record<string, string> = {};
  for (const { key, value } of attributes) {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (key === 'latitude' && typeof n === 'number' && n >= -90 && n <= 90) out.latitude = n;
    else if (key === 'longitude' && typeof n === 'number' && n >= -180 && n <= 180) out.longitude = n;
    else if (key === 'inactivityTimeout' && typeof n === 'number' && n >= 1000)
      out.inactivityTimeoutSec = Math.round(n / 1000);
    else {
      const m = LINE_LABEL.exec(key);
      if (m && typeof value === 'string' && value.trim() !== '') labels[m[1] as string] = value.trim();
    }
  }
  if (Object.keys(labels).length > 0) out.lineLabels = labels;
  return out;
}

/** Per-key series → `{ts, values}` entries, oldest first (ThingsBoard returns strings: kept as such). */
export function mergeSeries(series: Record<string, { ts: number; value: unknown }[]>) {
  const byTs = new Map<number, Record<string, unknown>>();
  for (const [key, rows] of Object.entries(series))
    for (const { ts, value } of rows) {
      const values = byTs.get(ts) ?? {};
      values[key] = value;
      byTs.set(ts, values);
    }
  return [...byTs.entries()].sort((a, b) => a[0] - b[0]).map(([ts, values]) => ({ ts, values }));
}

const cell = (v: string | number | null | undefined) =>
  v === null || v === undefined ? '' : `"${String(v).replaceAll('"', '""')}"`;

/** One device as the CSV import takes it (every cell quoted), header first. */
export function deviceCsv(
  name: string,
  profile: string | undefined,
  fields: MappedFields,
  creds: SpmsCredentials | undefined,
): string {
  const cols: [string, string | number | null | undefined][] = [
    ['name', name],
    ['label', fields.label],
    ['customer', fields.customer],
    ['latitude', fields.latitude],
    ['longitude', fields.longitude],
    ['profile', profile],
    ['inactivity_timeout_sec', fields.inactivityTimeoutSec],
  ];
  if (creds?.type === 'ACCESS_TOKEN') cols.push(['credentials_type', 'ACCESS_TOKEN'], ['token', creds.token]);
  if (creds?.type === 'MQTT_BASIC')
    cols.push(
      ['credentials_type', 'MQTT_BASIC'],
      ['client_id', creds.clientId],
      ['username', creds.username],
      ['password', creds.password],
    );
  for (const [n, label] of Object.entries(fields.lineLabels ?? {})) cols.push([`line_${n}`, label]);
  const used = cols.filter(([, v]) => v !== undefined && v !== null && v !== '');
  return `${used.map(([h]) => h).join(',')}\n${used.map(([, v]) => cell(v)).join(',')}\n`;
}

/** The ThingsBoard fields that differ from the SPMS device (only those ThingsBoard has). */
export function changedFields(existing: Record<string, unknown>, fields: MappedFields): Record<string, unknown> {
  const patch: Record<string, unknown> = {};
  for (const k of ['label', 'customer', 'latitude', 'longitude'] as const)
    if (fields[k] !== undefined && existing[k] !== fields[k]) patch[k] = fields[k];
  const overrides = (existing.overrides ?? {}) as { inactivityTimeoutSec?: number | null };
  if (fields.inactivityTimeoutSec !== undefined && overrides.inactivityTimeoutSec !== fields.inactivityTimeoutSec)
    patch.inactivityTimeoutSec = fields.inactivityTimeoutSec;
  if (fields.lineLabels) {
    const lines = (existing.lines as { number: number; label: string | null }[] | undefined) ?? [];
    const differs = Object.entries(fields.lineLabels).some(
      ([n, label]) => lines.find((l) => l.number === Number(n))?.label !== label,
    );
    if (differs) patch.lineLabels = fields.lineLabels;
  }
  return patch;
}
