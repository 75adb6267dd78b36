/**
 * CSV fleet import, step 1: text → typed device inputs, with every problem reported as
 * "row N, column: message" (N is the line in the file; the header is line 1).
 */

import { DEVICE_CSV_COLUMNS, type DeviceCsvColumn } from '@spms/contracts';
import type { HardwareStatus } from '@spms/db';
import { parse } from 'csv-parse/sync';
import { AppError } from '../../core/errors.js';
import type { CredentialsRequest } from './credentials-request.js';
import type { CreateDeviceInput } from './device-registry.js';

/** The known columns: one list shared with the simulator's fleet export (@spms/contracts). */
export const CSV_COLUMNS = DEVICE_CSV_COLUMNS;
type Column = DeviceCsvColumn;

export interface RowError {
  row: number;
  column: string;
  message: string;
}

export interface CsvDeviceRow {
  row: number;
  input: CreateDeviceInput;
}

const HARDWARE = ['OK', 'DEGRADED', 'FAULTY', 'RETIRED'];
const NUMERIC: [Column, keyof CreateDeviceInput, 'int' | 'float'][] = [
  ['latitude', 'latitude', 'float'],
  ['longitude', 'longitude', 'float'],
  ['inactivity_timeout_sec', 'inactivityTimeoutSec', 'int'],
  ['momentary_threshold_sec', 'momentaryThresholdSec', 'int'],
  ['voltage_min', 'voltageMin', 'float'],
  ['voltage_max', 'voltageMax', 'float'],
  ['alert_debounce_sec', 'alertDebounceSec', 'int'],
];

/** "Client ID", "client-id" and "client_id" all name the same column. */
const normalizeHeader = (h: string) =>
  h
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

/**
 * Parses and checks every row; more than `maxRows` device rows is a 413 (the checks and the
 * single transaction that follow grow with the file, so one request stays bounded).
 */
export function parseDeviceCsv(
  text: string,
  maxRows = Number.POSITIVE_INFINITY,
): { rows: CsvDeviceRow[]; errors: RowError[] } {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, info: true }) as never;
  } catch (err) {
    const e = err as { message: string; lines?: number };
    return { rows: [], errors: [{ row: e.lines ?? 0, column: '-', message: `not valid CSV: ${e.message}` }] };
  }
  const [header, ...data] = records;
  if (!header) return { rows: [], errors: [{ row: 1, column: '-', message: 'the file is empty' }] };
  const columns = header.record.map(normalizeHeader);
  const errors: RowError[] = [];
  const headerRow = header.info.lines;
  for (const c of columns)
    if (!(CSV_COLUMNS as readonly string[]).includes(c))
      errors.push({ row: headerRow, column: c, message: `unknown column; known columns: ${CSV_COLUMNS.join(', ')}` });
  if (!columns.includes('name'))
    errors.push({ row: headerRow, column: 'name', message: 'the "name" column is required' });
  if (errors.length) return { rows: [], errors };
  if (data.length > maxRows)
    throw new AppError(
      'PAYLOAD_TOO_LARGE',
      `import rejected, nothing was written: ${data.length} device rows, at most ${maxRows} per import; split the file`,
    );
  const rows: CsvDeviceRow[] = [];
  for (const { record, info } of data) {
    const cells = new Map<Column, string>();
    columns.forEach((c, i) => {
      const v = record[i];
      if (v !== undefined && v !== '') cells.set(c as Column, v);
    });
    const rowErrors = toInput(cells, info.lines);
    if ('errors' in rowErrors) errors.push(...rowErrors.errors);
    else rows.push({ row: info.lines, input: rowErrors.input });
  }
  if (data.length === 0) errors.push({ row: headerRow, column: '-', message: 'no device rows after the header' });
  return { rows, errors };
}

function toInput(cells: Map<Column, string>, row: number): { input: CreateDeviceInput } | { errors: RowError[] } {
  const errors: RowError[] = [];
  const err = (column: string, message: string) => errors.push({ row, column, message });
  const input: CreateDeviceInput = { name: cells.get('name') ?? '' };
  if (!input.name) err('name', 'is required');
  for (const key of ['label', 'region', 'customer', 'profile', 'notes'] as const) {
    const v = cells.get(key);
    if (v !== undefined) input[key] = v;
  }
  const hw = cells.get('hardware_status');
  if (hw !== undefined) {
    if (HARDWARE.includes(hw.toUpperCase())) input.hardwareStatus = hw.toUpperCase() as HardwareStatus;
    else err('hardware_status', `must be one of ${HARDWARE.join(', ')}`);
  }
  for (const [column, key, kind] of NUMERIC) {
    const v = cells.get(column);
    if (v === undefined) continue;
    const n = Number(v);
    if (!Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) err(column, `"${v}" is not a valid number`);
    else (input as unknown as Record<string, number>)[key] = n;
  }
  const labels: Record<string, string> = {};
  for (let n = 1; n <= 8; n++) {
    const v = cells.get(`line_${n}` as Column);
    if (v !== undefined) labels[String(n)] = v;
  }
  if (Object.keys(labels).length) input.lineLabels = labels;
  const creds = toCredentials(cells, err);
  if (creds) input.credentials = creds;
  return errors.length ? { errors } : { input };
}

function toCredentials(
  cells: Map<Column, string>,
  err: (column: string, message: string) => void,
): CredentialsRequest | undefined {
  const type = cells.get('credentials_type')?.toUpperCase().replace(/[\s-]/g, '_');
  const token = cells.get('token');
  const basic = { clientId: cells.get('client_id'), username: cells.get('username'), password: cells.get('password') };
  const hasBasic = Object.values(basic).some((v) => v !== undefined);
  const resolved = type ?? (token !== undefined ? 'ACCESS_TOKEN' : hasBasic ? 'MQTT_BASIC' : undefined);
  if (resolved === undefined) return undefined;
  if (resolved === 'ACCESS_TOKEN') {
    if (hasBasic) err('credentials_type', 'ACCESS_TOKEN rows take only "token"; clear client_id/username/password');
    return token !== undefined ? { type: 'ACCESS_TOKEN', token } : { type: 'ACCESS_TOKEN' };
  }
  if (resolved === 'MQTT_BASIC') {
    if (token !== undefined) err('token', 'MQTT_BASIC rows use client_id/username/password, not token');
    const req: CredentialsRequest = { type: 'MQTT_BASIC' };
    if (basic.clientId !== undefined) req.clientId = basic.clientId;
    if (basic.username !== undefined) req.username = basic.username;
    if (basic.password !== undefined) req.password = basic.password;
    return req;
  }
  err('credentials_type', 'must be ACCESS_TOKEN or MQTT_BASIC (or empty)');
  return undefined;
}
