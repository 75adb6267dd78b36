#!/usr/bin/env node
/**
 * `npm run db:migrate`: applies prisma/migrations with SPMS's runner (no Prisma schema
 * engine needed), then sets up the time-series tables (TimescaleDB when present).
 * Flags: --rolled-back <migration> marks a failed migration as rolled back;
 *        --create-database creates the database named in DATABASE_URL if missing.
 */
import { parseArgs } from 'node:util';
import { ConfigError, DatabaseUrl, parseConfig, Type } from '@spms/config';
import pg from 'pg';
import { applyMigrations } from '../migrate.js';
import { migrationsDir } from '../paths.js';
import { defaultTimeseriesOptions, setupTimeseries, type TimeseriesOptions } from '../timescale.js';

const Interval = (description: string) =>
  Type.Optional(Type.String({ pattern: '^(off|\\d+ (minutes?|hours?|days?|weeks?|months?|years?))$', description }));

const schema = Type.Object({
  DATABASE_URL: DatabaseUrl,
  SPMS_RETENTION_LINE_EVENTS: Interval('e.g. "1826 days" or "off"'),
  SPMS_RETENTION_VOLTAGE: Interval('e.g. "90 days" or "off"'),
  SPMS_RETENTION_TELEMETRY_RAW: Interval('e.g. "30 days" or "off"'),
  SPMS_RETENTION_CONNECTIVITY: Interval('e.g. "1826 days" or "off"'),
  SPMS_COMPRESS_AFTER: Interval('e.g. "7 days" or "off"; applies to every time-series table'),
});

function timeseriesOptions(cfg: ReturnType<typeof parseConfig<typeof schema.properties>>): TimeseriesOptions {
  const off = (v: string | undefined, fallback: string | null) => (v === undefined ? fallback : v === 'off' ? null : v);
  const t = defaultTimeseriesOptions.tables;
  const withOverrides = (name: keyof typeof t, retain: string | undefined) => ({
    ...t[name],
    retainFor: off(retain, t[name].retainFor),
    compressAfter: off(cfg.SPMS_COMPRESS_AFTER, t[name].compressAfter),
  });
  return {
    ...defaultTimeseriesOptions,
    tables: {
      line_events: withOverrides('line_events', cfg.SPMS_RETENTION_LINE_EVENTS),
      voltage_samples: withOverrides('voltage_samples', cfg.SPMS_RETENTION_VOLTAGE),
      telemetry_raw: withOverrides('telemetry_raw', cfg.SPMS_RETENTION_TELEMETRY_RAW),
      device_connectivity: withOverrides('device_connectivity', cfg.SPMS_RETENTION_CONNECTIVITY),
    },
  };
}

async function createDatabaseIfMissing(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rows.length === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      console.log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { 'rolled-back': { type: 'string' }, 'create-database': { type: 'boolean' } },
  });
  const cfg = parseConfig(schema, process.env);
  if (values['create-database']) await createDatabaseIfMissing(cfg.DATABASE_URL);
  const client = new pg.Client({ connectionString: cfg.DATABASE_URL });
  await client.connect();
  try {
    const result = await applyMigrations(client, migrationsDir, { markRolledBack: values['rolled-back'] });
    for (const name of result.applied) console.log(`applied ${name}`);
    for (const name of result.modified) console.warn(`warning: ${name} was changed after it was applied`);
    if (result.applied.length === 0) console.log(`database is up to date (${result.alreadyApplied.length} migrations)`);
    const ts = await setupTimeseries(client, timeseriesOptions(cfg));
    console.log(
      ts.timescale
        ? `TimescaleDB ${ts.version}: hypertables ${ts.hypertables.join(', ')}; voltage_1m/voltage_1h continuous aggregates`
        : 'TimescaleDB not available: plain PostgreSQL tables and views',
    );
  } finally {
    await client.end();
  }
}

main().catch((err) => {
  console.error(
    err instanceof ConfigError ? err.message : `db:migrate failed: ${err instanceof Error ? err.message : err}`,
  );
  process.exit(1);
});
