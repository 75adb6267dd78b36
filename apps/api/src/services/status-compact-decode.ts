/**
 * Reads a compact status row back into the facts of the full /api/status (times as epoch
 * ms; an open outage as `openOutage: true` without its id). The reference decoder for the
 * format in status-compact.ts: tests compare it with the full answer, the dashboard has the
 * same rules in apps/web/src/api/compact.ts.
 */
import type { CompactRow } from './status-compact.js';

export interface DecodedLine {
  line: number;
  label: string;
  enabled?: false;
  state: 'powered' | 'unpowered' | 'unknown';
  since: number | null;
  lastKnown?: 'powered' | 'unpowered' | null;
  openOutage?: true;
}

export interface DecodedDevice {
  id: string;
  name: string;
  label: string | null;
  lat: number | null;
  lon: number | null;
  region: string | null;
  customer: string | null;
  active: boolean;
  connection: 'connected' | 'disconnected' | 'lost';
  connectionLost: boolean;
  lastActivityAt: number | null;
  inactiveSince: number | null;
  volts: number | null;
  voltsAt: number | null;
  voltsLevel: string | null;
  openOutages: number;
  lines: DecodedLine[];
}

const CONNECTIONS = ['disconnected', 'connected', 'lost'] as const;

export function decodeCompactRow(
  row: CompactRow,
  dict: { strings: string[]; lineSets: (number | null)[][] },
): DecodedDevice {
  const s = (i: number | null) => (i === null ? null : (dict.strings[i] ?? null));
  const [id, name, label, lat, lon, region, customer, state, lineSet, reported, powered, disabled, outages] = row;
  const active = (state & 1) === 1;
  const connection = CONNECTIONS[(state >> 1) & 3] ?? 'disconnected';
  const [, , , , , , , , , , , , , volts, voltsLevel, voltsAt, lastActivityAt, inactiveSince, lineSince] = row;
  const lines: DecodedLine[] = [];
  (dict.lineSets[lineSet] ?? []).forEach((labelIndex, i) => {
    if (labelIndex === null) return;
    const bit = 1 << i;
    const hasReport = (reported & bit) !== 0;
    const last = hasReport ? ((powered & bit) !== 0 ? 'powered' : 'unpowered') : null;
    const known = active && hasReport;
    const line: DecodedLine = {
      line: i + 1,
      label: s(labelIndex) ?? '',
      state: known ? (last as 'powered' | 'unpowered') : 'unknown',
      since: known
        ? Array.isArray(lineSince)
          ? (lineSince[i] ?? null)
          : lineSince
        : active
          ? lastActivityAt
          : (inactiveSince ?? lastActivityAt),
    };
    if (disabled & bit) line.enabled = false;
    if (!known) line.lastKnown = last;
    if (outages & bit) line.openOutage = true;
    lines.push(line);
  });
  return {
    id,
    name,
    label,
    lat,
    lon,
    region: s(region),
    customer: s(customer),
    active,
    connection,
    connectionLost: connection === 'lost',
    lastActivityAt,
    inactiveSince,
    volts,
    voltsAt,
    voltsLevel: s(voltsLevel),
    openOutages: lines.filter((l) => l.openOutage).length,
    lines,
  };
}
