/**
 * Streamed CSV (RFC 4180 via csv-stringify): rows are pulled page by page from an async
 * source and written as they come, so an export of a year never sits in memory.
 * Times are ISO 8601 with the fleet's offset (e.g. 2026-11-27T10:00:00.000+05:30).
 */
import { Readable } from 'node:stream';
import { timeZoneOffsetMs } from '@spms/reliability';
import { type Options, stringify } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** True when the caller asked for CSV (`?format=csv` or an Accept header preferring text/csv). */
export function wantsCsv(req: FastifyRequest, format?: string): boolean {
  if (format) return format === 'csv';
  const accept = req.headers.accept ?? '';
  return /\btext\/csv\b/i.test(accept) && !/^\s*application\/json/i.test(accept);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** ISO 8601 in the given zone with its offset; '' for null (an empty CSV cell). */
export function localIso(t: Date | number | null | undefined, timeZone: string): string {
  if (t === null || t === undefined) return '';
  const ms = typeof t === 'number' ? t : t.getTime();
  const offset = timeZoneOffsetMs(ms, timeZone);
  const d = new Date(ms + offset);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset) / 60_000;
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}` +
    `T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`
  );
}

/** Cells a spreadsheet would run as a formula (or DDE) when they start with one of these. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * Neutralises spreadsheet formula injection in a text cell (OWASP "CSV injection"): labels,
 * regions and customers are free text typed by operators, so `=HYPERLINK(…)` must reach
 * Excel/LibreOffice as text. A leading single quote makes the cell text; numbers are never
 * passed here, so a negative voltage stays a number.
 */
export function escapeCsvText(s: string): string {
  return FORMULA_START.test(s) ? `'${s}` : s;
}

/** How every CSV of the API is written (header row, BOM, CRLF, numbers as numbers, text escaped). */
function csvOptions(header: string[]): Options {
  return {
    header: true,
    columns: header,
    bom: true,
    record_delimiter: 'windows',
    cast: {
      boolean: (b) => (b ? 'true' : 'false'),
      string: (v, ctx) => (ctx.header ? v : escapeCsvText(v)),
    },
  };
}

/** The same CSV as sendCsv, as one string (a small file, e.g. an e-mail attachment). */
export function csvText(header: string[], rows: unknown[][]): string {
  return stringifySync(rows, csvOptions(header));
}

/**
 * Sends `rows` (arrays of cells, pulled lazily) as a CSV attachment with a header row.
 * A UTF-8 BOM makes spreadsheets read non-ASCII labels correctly; CRLF per RFC 4180.
 * Every string cell goes through escapeCsvText; number cells are written as numbers.
 */
export function sendCsv(
  reply: FastifyReply,
  filename: string,
  header: string[],
  rows: AsyncIterable<unknown[]>,
): FastifyReply {
  const source = Readable.from(rows, { objectMode: true });
  const csv = stringify(csvOptions(header));
  source.on('error', (err) => csv.destroy(err));
  // If the client goes away, stop pulling pages from the database.
  reply.raw.on('close', () => source.destroy());
  return reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(source.pipe(csv));
}
