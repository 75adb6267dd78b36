/**
 * Time-series setup, run after the migrations by `npm run db:migrate` (idempotent).
 *
 * With TimescaleDB (detected, never assumed): the time-series tables become hypertables
 * with compression and retention policies, and voltage gets continuous aggregates
 * (voltage_1m, and voltage_1h built on it). Without it: plain views with the same names
 * and columns, so readers never need to know which one they talk to.
 * Continuous aggregates cannot be created inside a transaction, which is why this is not
 * a migration file.
 */
import type { SqlExecutor } from './sql.js';

export interface TableOptions {
  chunkInterval: string;
  /** Compress chunks older than this; null disables compression. */
  compressAfter: string | null;
  /** Drop chunks older than this; null keeps data forever. */
  retainFor: string | null;
}

export interface TimeseriesOptions {
  tables: Record<TimeseriesTable, TableOptions>;
  /** Retention of the continuous aggregates; null keeps them forever. */
  voltage1mRetainFor: string | null;
  voltage1hRetainFor: string | null;
}

export type TimeseriesTable = 'line_events' | 'voltage_samples' | 'telemetry_raw' | 'device_connectivity';

export const defaultTimeseriesOptions: TimeseriesOptions = {
  tables: {
    // Line events are the evidence behind outage reports: kept for 5 years (the
    // major-event-day method looks back that far).
    line_events: { chunkInterval: '7 days', compressAfter: '30 days', retainFor: '1826 days' },
    voltage_samples: { chunkInterval: '1 day', compressAfter: '7 days', retainFor: '90 days' },
    telemetry_raw: { chunkInterval: '1 day', compressAfter: '7 days', retainFor: '30 days' },
    device_connectivity: { chunkInterval: '7 days', compressAfter: '30 days', retainFor: '1826 days' },
  },
  voltage1mRetainFor: '400 days',
  voltage1hRetainFor: null,
};

export interface TimeseriesSetupResult {
  timescale: boolean;
  version: string | null;
  hypertables: string[];
}

/** True when the timescaledb extension is (or can be) installed in this database. */
export async function detectTimescale(db: SqlExecutor): Promise<string | null> {
  const installed = await db.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`,
  );
  if (installed.rows[0]) return installed.rows[0].extversion;
  const available = await db.query(`SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'`);
  if (available.rows.length === 0) return null;
  try {
    // Needs shared_preload_libraries = 'timescaledb'; without it this fails and we
    // fall back to plain PostgreSQL.
    await db.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
  } catch {
    return null;
  }
  const after = await db.query<{ extversion: string }>(
    `SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'`,
  );
  return after.rows[0]?.extversion ?? null;
}

export async function setupTimeseries(
  db: SqlExecutor,
  options: TimeseriesOptions = defaultTimeseriesOptions,
): Promise<TimeseriesSetupResult> {
  const version = await detectTimescale(db);
  if (!version) {
    await createPlainVoltageViews(db);
    return { timescale: false, version: null, hypertables: [] };
  }
  const hypertables: string[] = [];
  for (const [table, opts] of Object.entries(options.tables) as [TimeseriesTable, TableOptions][]) {
    await db.query(
      `SELECT create_hypertable($1::regclass, by_range('ts', $2::interval), if_not_exists => TRUE, migrate_data => TRUE)`,
      [table, opts.chunkInterval],
    );
    await configureCompression(db, table, opts.compressAfter);
    await replacePolicy(db, table, 'policy_retention', 'drop_after', opts.retainFor, (t, i) =>
      db.query(`SELECT add_retention_policy($1::regclass, $2::interval)`, [t, i]),
    );
    hypertables.push(table);
  }
  await createVoltageAggregates(db, options);
  return { timescale: true, version, hypertables };
}

async function configureCompression(db: SqlExecutor, table: string, after: string | null): Promise<void> {
  if (after) {
    const { rows } = await db.query<{ compression_enabled: boolean }>(
      `SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = $1`,
      [table],
    );
    if (!rows[0]?.compression_enabled) {
      const orderBy = table === 'line_events' ? 'line, ts DESC' : 'ts DESC';
      await db.query(
        `ALTER TABLE ${table} SET (timescaledb.compress, timescaledb.compress_segmentby = 'device_id', timescaledb.compress_orderby = '${orderBy}')`,
      );
    }
  }
  await replacePolicy(db, table, 'policy_compression', 'compress_after', after, (t, i) =>
    db.query(`SELECT add_compression_policy($1::regclass, $2::interval)`, [t, i]),
  );
}

/**
 * Makes the table's policy of this kind match `interval` (null = none): an unchanged
 * policy is left alone, a changed one is replaced, so configuration changes take effect
 * on the next `db:migrate`.
 */
async function replacePolicy(
  db: SqlExecutor,
  table: string,
  proc: 'policy_retention' | 'policy_compression' | 'policy_refresh_continuous_aggregate',
  key: string,
  interval: string | null,
  add: (table: string, interval: string) => Promise<unknown>,
): Promise<void> {
  const { rows } = await db.query<{ job_id: number; current: string | null; wanted: string | null }>(
    `SELECT j.job_id, (j.config->>$3)::interval::text AS current, $4::interval::text AS wanted
       FROM timescaledb_information.jobs j
      WHERE j.hypertable_name = $1 AND j.proc_name = $2`,
    [table, proc, key, interval],
  );
  const existing = rows[0];
  if (existing && existing.current === existing.wanted) return;
  if (existing) await db.query('SELECT delete_job($1)', [existing.job_id]);
  if (interval) await add(table, interval);
}

const VOLTAGE_1M_SELECT = `
  SELECT device_id, time_bucket(INTERVAL '1 minute', ts) AS bucket,
         min(volts) AS v_min, max(volts) AS v_max, avg(volts) AS v_avg,
         sum(volts) AS v_sum, count(*) AS samples
    FROM voltage_samples GROUP BY device_id, time_bucket(INTERVAL '1 minute', ts)`;

const VOLTAGE_1H_FROM_1M = `
  SELECT device_id, time_bucket(INTERVAL '1 hour', bucket) AS bucket,
         min(v_min) AS v_min, max(v_max) AS v_max, sum(v_sum) / sum(samples) AS v_avg,
         sum(v_sum) AS v_sum, sum(samples) AS samples
    FROM voltage_1m GROUP BY device_id, time_bucket(INTERVAL '1 hour', bucket)`;

async function relationKind(db: SqlExecutor, name: string): Promise<'cagg' | 'view' | null> {
  const { rows } = await db.query<{ relkind: string }>(
    `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = $1 AND n.nspname = current_schema()`,
    [name],
  );
  if (!rows[0]) return null;
  // A continuous aggregate shows as a view too; tell them apart through the catalog.
  const cagg = await db.query(`SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = $1`, [
    name,
  ]);
  return cagg.rows.length > 0 ? 'cagg' : 'view';
}

async function createVoltageAggregates(db: SqlExecutor, options: TimeseriesOptions): Promise<void> {
  // Plain views from an earlier run on PostgreSQL without TimescaleDB are replaced.
  for (const name of ['voltage_1h', 'voltage_1m']) {
    if ((await relationKind(db, name)) === 'view') await db.query(`DROP VIEW ${name}`);
  }
  if ((await relationKind(db, 'voltage_1m')) === null) {
    await db.query(
      `CREATE MATERIALIZED VIEW voltage_1m WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS ${VOLTAGE_1M_SELECT} WITH NO DATA`,
    );
  }
  if ((await relationKind(db, 'voltage_1h')) === null) {
    await db.query(
      `CREATE MATERIALIZED VIEW voltage_1h WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS ${VOLTAGE_1H_FROM_1M} WITH NO DATA`,
    );
  }
  await db.query(
    `SELECT add_continuous_aggregate_policy('voltage_1m', start_offset => INTERVAL '2 hours', end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute', if_not_exists => TRUE)`,
  );
  await db.query(
    `SELECT add_continuous_aggregate_policy('voltage_1h', start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '30 minutes', if_not_exists => TRUE)`,
  );
  for (const [name, retain] of [
    ['voltage_1m', options.voltage1mRetainFor],
    ['voltage_1h', options.voltage1hRetainFor],
  ] as const) {
    await replacePolicy(db, name, 'policy_retention', 'drop_after', retain, (t, i) =>
      db.query(`SELECT add_retention_policy($1::regclass, $2::interval)`, [t, i]),
    );
  }
}

/** Same names and columns as the continuous aggregates, computed on the fly. */
async function createPlainVoltageViews(db: SqlExecutor): Promise<void> {
  for (const [name, width] of [
    ['voltage_1m', '1 minute'],
    ['voltage_1h', '1 hour'],
  ]) {
    const bucket = `date_bin(INTERVAL '${width}', ts, TIMESTAMPTZ '2000-01-01')`;
    await db.query(`CREATE OR REPLACE VIEW ${name} AS
    SELECT device_id, ${bucket} AS bucket,
           min(volts) AS v_min, max(volts) AS v_max, avg(volts) AS v_avg,
           sum(volts) AS v_sum, count(*) AS samples
      FROM voltage_samples GROUP BY device_id, ${bucket}`);
  }
}
