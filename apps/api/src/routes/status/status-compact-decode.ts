/**
 * Reads a compact status row back into the facts of the full /api/status (times as epoch
 * ms, to the second; volts to 0.1 V; places to 5 decimals; an open outage as
 * `openOutage: true` without its id). The reference decoder for the
 * format in status-compact.ts: tests compare it with the full answer, the dashboard has the
 * same rules in apps/web/src/api/compact.ts.
 */
import type { CompactRow } from './status-compact.js';

/** Voltage levels the worker writes (apps/worker/src/persist/voltage.ts), by their code in `state`. */
export const VOLTS_LEVELS = [null, 'normal', 'under', 'over', 'absent'] as const;

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

/** 22 base64url characters → 8-4-4-4-12 hex UUID. */
export function uuidOf(id: string): string {
  const h = Buffer.from(id, 'base64url').toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function decodeCompactRow(
  row: CompactRow,
  body: { base: number; strings: string[]; lineSets: (number | null)[][] },
): DecodedDevice {
  const s = (i: number | null | undefined) => (i == null ? null : (body.strings[i] ?? null));
  const at = (ago: number | null | undefined) => (ago == null ? null : body.base - ago * 1000);
  const [id, name, region, customer, state, lineSet, unreported = 0, unpowered = 0, lastAgo, volts] = row;
  const [, , , , , , , , , , voltsLag, lineSince, lat, lon, label, disabled = 0, outages = 0, inactiveAgo] = row;
  const active = (state & 1) === 1;
  const connection = CONNECTIONS[(state >> 1) & 3] ?? 'disconnected';
  const lastActivityAt = at(lastAgo);
  const inactiveSince = at(inactiveAgo);
  const set = body.lineSets[lineSet] ?? [];
  let mask = 0;
  set.forEach((l, i) => {
    if (l !== null) mask |= 1 << i;
  });
  const reported = mask & ~unreported;
  const lines: DecodedLine[] = [];
  set.forEach((labelIndex, i) => {
    if (labelIndex === null) return;
    const bit = 1 << i;
    const hasReport = (reported & bit) !== 0;
    const last = hasReport ? ((unpowered & bit) === 0 ? 'powered' : 'unpowered') : null;
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
    id: uuidOf(id),
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
    volts: volts ?? null,
    voltsAt: voltsLag == null ? null : (lastActivityAt ?? body.base) - voltsLag * 1000,
    voltsLevel: VOLTS_LEVELS[(state >> 3) & 7] ?? null,
    openOutages: lines.filter((l) => l.openOutage).length,
    lines,
  };
}
