import { createPool, type Pool } from '@spms/db';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S1, seedKnownHistory } from '../../test-support/known-history.js';
import { voltagePage } from './voltage-query.js';

let db: TestDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await createTestDatabase('voltage_days');
  pool = createPool(db.url);
  await seedKnownHistory(pool);
  // Asia/Colombo is UTC+05:30: 23:50 and 00:10 local share the UTC hour 18:00Z, but not the day.
  await pool.query(
    `INSERT INTO voltage_samples (device_id, ts, volts, msg_id)
     VALUES ($1, '2026-01-10T23:50:00+05:30', 200, 'late'), ($1, '2026-01-11T00:10:00+05:30', 240, 'early')`,
    [S1],
  );
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('voltage day buckets', () => {
  it('put samples at 23:50 and 00:10 local time in their own local days', async () => {
    const points = await voltagePage(
      pool,
      S1,
      '1d',
      { from: new Date('2026-01-09T00:00:00+05:30'), to: new Date('2026-01-13T00:00:00+05:30') },
      100,
      'Asia/Colombo',
    );
    expect(points.map((p) => ({ t: p.t.toISOString(), min: p.min, max: p.max, samples: p.samples }))).toEqual([
      { t: '2026-01-09T18:30:00.000Z', min: 200, max: 200, samples: 1 },
      { t: '2026-01-10T18:30:00.000Z', min: 240, max: 240, samples: 1 },
    ]);
  });
});
