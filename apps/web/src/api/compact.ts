/**
 * The fleet from GET /api/status/compact: a full read first (tuple rows, string dictionary,
 * line bit masks; the format is in apps/api/src/routes/status/status-compact-schema.ts), then only the
 * devices changed since its cursor (`?since=`). The server says `reload` when the cursor can
 * no longer be followed (devices added, edited, moved or deleted; access changed; events
 * pruned): the next read is a full one. An API without the compact route gets the full
 * /api/status (fleetStatus).
 */
import { type FleetStatus, fleetStatus, NotAvailable, request } from './client.js';
import { countersOf, type DeviceStatus, health, type LineStatus } from './normalize.js';
import type { Answer } from './types.js';

/** The compact answer as the API's OpenAPI document describes it (apps/api/src/routes/status/
 *  status-compact-schema.ts, the one definition of the row): full, delta or reload. */
type Body = Answer<'/api/status/compact/'>;
type Columns = NonNullable<Body['columns']>;
/** The row with every position (the document's tuple), and its first always-sent ones. */
type FullRow = NonNullable<Body['rows']>[number];
type Split<T extends unknown[], N extends number, H extends unknown[] = []> = H['length'] extends N
  ? [H, T]
  : T extends [infer F, ...infer R]
    ? Split<R, N, [...H, F]>
    : [H, T];
type Sent = Split<FullRow, 6>;
/** A row as sent: trailing defaults (null, 0) are cut. */
export type Row = [...Sent[0], ...Partial<Sent[1]>];
/** A full or delta answer (a reload answer has none of these). */
type Readable = Body & Required<Pick<Body, 'cursor' | 'base' | 'strings' | 'lineSets'>>;
const readable = (b: Body): b is Readable =>
  !b.reload && b.cursor !== undefined && b.base !== undefined && b.strings !== undefined && b.lineSets !== undefined;

type Position<C extends unknown[], K> = { [I in keyof C]: C[I] extends K ? I : never }[number];
type ToNumber<S> = S extends `${infer N extends number}` ? N : never;
/** The positions of the fields read here, checked against the document's `columns`: a field
 *  renamed or moved at the API is a compile error here, and every read below goes through them. */
const C = {
  id: 0,
  name: 1,
  region: 2,
  state: 4,
  lineSet: 5,
  unreported: 6,
  unpowered: 7,
  lastActivityAt: 8,
  volts: 9,
  voltsAt: 10,
  lineSince: 11,
  lat: 12,
  lon: 13,
  label: 14,
  outages: 16,
  inactiveSince: 17,
} as const satisfies { [K in Columns[number]]?: ToNumber<Position<Columns, K>> };

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_VALUE = new Map([...B64].map((c, i) => [c, i]));
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** The 22 base64url characters of a compact row's id → the device's UUID. */
export function uuidOf(id: string): string {
  let hex = '';
  let acc = 0;
  let bits = 0;
  for (const c of id) {
    acc = (acc << 6) | (B64_VALUE.get(c) ?? 0);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      hex += HEX[(acc >> bits) & 0xff];
    }
  }
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** One compact row as the dashboard's device (same rules as the API's reference decoder). */
export function decodeRow(row: Row, body: Pick<Readable, 'base' | 'strings' | 'lineSets'>): DeviceStatus {
  const s = (i: number | null | undefined) => (i == null ? null : (body.strings[i] ?? null));
  const at = (ago: number | null | undefined) => (ago == null ? null : body.base - ago * 1000);
  const state = row[C.state];
  const unreported = row[C.unreported] ?? 0;
  const unpowered = row[C.unpowered] ?? 0;
  const lineSince = row[C.lineSince];
  const voltsLag = row[C.voltsAt];
  const active = (state & 1) === 1;
  const lastActivityAt = at(row[C.lastActivityAt]);
  const inactiveSince = at(row[C.inactiveSince]);
  const lines: LineStatus[] = [];
  (body.lineSets[row[C.lineSet]] ?? []).forEach((labelIndex, i) => {
    if (labelIndex === null) return;
    const bit = 1 << i;
    const known = active && (unreported & bit) === 0;
    lines.push({
      number: i + 1,
      label: s(labelIndex) ?? `Line ${i + 1}`,
      state: known ? ((unpowered & bit) === 0 ? 'powered' : 'down') : 'unknown',
      since: known
        ? at(Array.isArray(lineSince) ? lineSince[i] : lineSince)
        : active
          ? lastActivityAt
          : (inactiveSince ?? lastActivityAt),
    });
  });
  let openOutages = 0;
  for (let m = row[C.outages] ?? 0; m; m &= m - 1) openOutages += 1;
  const d = {
    id: uuidOf(row[C.id]),
    name: row[C.name],
    label: row[C.label] ?? null,
    region: s(row[C.region]),
    lat: row[C.lat] ?? null,
    lon: row[C.lon] ?? null,
    active,
    connectionLost: ((state >> 1) & 3) === 2,
    lastActivityAt,
    lines,
    voltage: row[C.volts] ?? null,
    voltageAt: voltsLag == null ? null : (lastActivityAt ?? body.base) - voltsLag * 1000,
    openOutages,
  };
  return {
    ...d,
    health: health(d),
    linesDown: active ? lines.filter((l) => l.state === 'down').length : 0,
    voltageLimits: null,
  };
}

let held: { cursor: string; devices: DeviceStatus[]; index: Map<string, number> } | null = null;
let compactMissing = false;

/** The next read is a full one (after a stream `resync`, and now and then for voltages). */
export function reloadCompactNext(): void {
  held = null;
}

function answer(body: Body, devices: DeviceStatus[], res: Response): FleetStatus {
  const served = Date.parse(res.headers.get('date') ?? '');
  return {
    devices,
    counters: countersOf(devices, body.counters),
    live: true,
    generatedAt: body.generatedAt,
    stale: Number.isFinite(served) && served - body.generatedAt > 1500,
  };
}

/** The fleet: a delta on what we hold when we can, else a full compact read. */
export async function fleetStatusCompact(): Promise<FleetStatus> {
  if (compactMissing) return fleetStatus();
  try {
    if (held) {
      const res = await request('GET', `/api/status/compact?since=${encodeURIComponent(held.cursor)}`);
      const body = (await res.json()) as Body;
      if (readable(body)) {
        const devices = held.devices.slice();
        for (const row of body.changed ?? []) {
          const i = held.index.get(uuidOf(row[C.id]));
          if (i !== undefined) devices[i] = decodeRow(row, body);
        }
        held = { ...held, cursor: body.cursor, devices };
        return answer(body, devices, res);
      }
    }
    // The browser revalidates with the ETag (cache-control: no-cache): unchanged is a 304.
    const res = await request('GET', '/api/status/compact');
    const body = (await res.json()) as Body;
    if (!readable(body)) throw new Error('the compact status answered without rows');
    const devices = (body.rows ?? []).map((r) => decodeRow(r, body));
    held = { cursor: body.cursor, devices, index: new Map(devices.map((d, i) => [d.id, i])) };
    return answer(body, devices, res);
  } catch (err) {
    if (!(err instanceof NotAvailable)) throw err;
    compactMissing = true; // an older API: the full status from now on
    return fleetStatus();
  }
}
