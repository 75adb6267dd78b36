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
  body: { base: number; strings: string[]; lineSets: (number | null)[][] },
): DecodedDevice {
  const s = (i: number | null | undefined) => (i == null ? null : (body.strings[i] ?? null));
  const at = (ago: number | null | undefined) => (ago == null ? null : body.base - ago);
  const [id, name, region, customer, state, lineSet, reported, powered, volts, voltsLevel] = row;
  const [, , , , , , , , , , lastAgo, voltsAgo, lineSince, lat, lon, label, disabled = 0, outages = 0] = row;
  const active = (state & 1) === 1;
  const connection = CONNECTIONS[(state >> 1) & 3] ?? 'disconnected';
  const lastActivityAt = at(lastAgo);
  const inactiveSince = at(row[18]);
  const lines: DecodedLine[] = [];
  (body.lineSets[lineSet] ?? []).forEach((labelIndex, i) => {
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
        ? at(Array.isArray(lineSince) ? lineSince[i] : lineSince)
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
    label: label ?? null,
    lat: lat ?? null,
    lon: lon ?? null,
    region: s(region),
    customer: s(customer),
    active,
    connection,
    connectionLost: connection === 'lost',
    lastActivityAt,
    inactiveSince,
    volts,
    voltsAt: at(voltsAgo),
    voltsLevel: s(voltsLevel),
    openOutages: lines.filter((l) => l.openOutage).length,
    lines,
  };
}
