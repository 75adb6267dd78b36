/** Human-readable device output. */
import { type Column, formatFields } from '../output.js';

export interface DeviceOut {
  id: string;
  name: string;
  label: string | null;
  region: string | null;
  customer: string | null;
  latitude: number | null;
  longitude: number | null;
  notes: string | null;
  hardwareStatus: string;
  profile: { name: string };
  overrides: Record<string, number | null>;
  effective: Record<string, number>;
  lines: { number: number; label: string }[];
  credentials: { type: string; clientId: string | null; username: string | null; hasPassword: boolean } | null;
  issuedCredentials?: Record<string, string | null>;
}

export const describeCreds = (c: DeviceOut['credentials']) =>
  !c
    ? 'none'
    : c.type === 'ACCESS_TOKEN'
      ? 'access token'
      : `mqtt basic (${[c.clientId && `client id ${c.clientId}`, c.username && `user ${c.username}`, c.hasPassword && 'password'].filter(Boolean).join(', ')})`;

export const deviceColumns: Column<DeviceOut>[] = [
  ['NAME', (d) => d.name],
  ['LABEL', (d) => d.label],
  ['REGION', (d) => d.region],
  ['CUSTOMER', (d) => d.customer],
  ['PROFILE', (d) => d.profile.name],
  ['LAT', (d) => d.latitude],
  ['LON', (d) => d.longitude],
  ['STATUS', (d) => d.hardwareStatus],
  ['CREDENTIALS', (d) => d.credentials?.type ?? 'none'],
];

export function formatIssued(issued: Record<string, string | null> | undefined): string {
  if (!issued) return '';
  const pairs = Object.entries(issued).filter(([k]) => k !== 'type');
  return `\nGenerated credentials (${issued.type}) - shown only now, store them in the firmware config:\n${formatFields(pairs.map(([k, v]) => [`  ${k}`, v]))}`;
}

export function formatDevice(d: DeviceOut): string {
  const settings = Object.keys(d.effective).map(
    (k) => [k, `${d.effective[k]}${d.overrides[k] !== null ? ' (device override)' : ''}`] as [string, unknown],
  );
  return [
    formatFields([
      ['id', d.id],
      ['name', d.name],
      ['label', d.label],
      ['region', d.region],
      ['customer', d.customer],
      ['location', d.latitude === null ? null : `${d.latitude}, ${d.longitude}`],
      ['hardware', d.hardwareStatus],
      ['notes', d.notes],
      ['profile', d.profile.name],
      ['credentials', describeCreds(d.credentials)],
      ...settings,
    ]),
    `lines: ${d.lines.map((l) => `${l.number}=${l.label}`).join(', ')}`,
  ].join('\n');
}
