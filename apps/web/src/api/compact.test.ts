import { describe, expect, it } from 'vitest';
import { decodeRow } from './compact.js';

type CompactRow = Parameters<typeof decodeRow>[0];
interface ApiLine {
  line: number;
  label: string;
  state: string;
  since: number | null;
}
// The API's reference decoder, loaded by path so the dashboard's type-check stays in src.
const reference = '../../../api/src/routes/status/status-compact-decode.js';
const { decodeCompactRow } = (await import(/* @vite-ignore */ reference)) as {
  decodeCompactRow: (row: CompactRow, d: typeof dict) => Record<string, unknown> & { lines: ApiLine[] };
};

// Rows as the API writes them (apps/api/src/routes/status/status-compact.ts, format 2), covering each rule.
const T = 1_767_000_000_000;
const dict = { base: T, strings: ['North', 'C1', 'CEB', 'TP 2', 'TP 4'], lineSets: [[2, 3, null, 4]] };
const ID_A = 'AAAAAAAAQACAAAAAAAAAAQ'; // 00000000-0000-4000-8000-000000000001
const rows: CompactRow[] = [
  // active, normal volts; line 2 down (open outage) since 5 s before base, line 1 since 9 s; line 4 never reported
  [ID_A, 'A_MSAN', 0, 1, 0b1011, 0, 0b1000, 0b0010, 0, 230.4, 9, [9, 5, null, null], 6.9, 79.8, 'lbl', 0, 0b0010],
  // active, every known line since the same instant, connection lost, line 4 not monitored, no volts
  ['_____________________w', 'B_MSAN', null, null, 0b101, 0, 0, 0, 3, null, null, 700, null, null, null, 0b1000],
  // inactive, volts absent: every line unknown since the inactivity start
  ['EjRWeJq83vASNFZ4mrze8A', 'C_MSAN', 0, null, 0b100000, 0, 0, 0b1000, 120, 0, 0, null, null, null, null, 0, 1, 1],
  // registered, never heard of: the shortest row
  ['AAAAAAAAAAAAAAAAAAAAAA', 'D_MSAN', null, null, 0, 0, 0b1011],
];

describe('dashboard decoder of the compact status', () => {
  it('reads every row as the API reference decoder does', () => {
    for (const row of rows) {
      const api = decodeCompactRow(row, dict);
      const web = decodeRow(row, dict);
      expect(web).toMatchObject({
        id: api.id,
        name: api.name,
        label: api.label,
        region: api.region,
        lat: api.lat,
        lon: api.lon,
        active: api.active,
        connectionLost: api.connectionLost,
        lastActivityAt: api.lastActivityAt,
        voltage: api.volts,
        voltageAt: api.voltsAt,
        openOutages: api.openOutages,
      });
      expect(web.lines).toEqual(
        api.lines.map((l) => ({
          number: l.line,
          label: l.label,
          state: l.state === 'unpowered' ? 'down' : l.state,
          since: l.since,
        })),
      );
    }
    expect(decodeRow(rows[0] as CompactRow, dict)).toMatchObject({
      id: '00000000-0000-4000-8000-000000000001',
      health: 'partial',
      linesDown: 1,
    });
    expect(decodeRow(rows[2] as CompactRow, dict).id).toBe('12345678-9abc-def0-1234-56789abcdef0');
    expect(decodeRow(rows[2] as CompactRow, dict)).toMatchObject({ health: 'offline', linesDown: 0 });
  });
});
