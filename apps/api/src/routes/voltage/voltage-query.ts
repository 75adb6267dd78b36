/**
 * Voltage history from the raw samples or the voltage_1m / voltage_1h aggregates
 * (continuous aggregates with TimescaleDB, plain views without: same columns). 1 d buckets
 * are local days of the fleet's zone, built from voltage_1m: hour buckets are UTC hours and
 * Asia/Colombo is UTC+05:30, so a local day starts mid-hour and hourly rows would put up to
 * 30 minutes at each edge in the wrong day; minutes split every whole-minute offset exactly.
 * Only hours older than the first minute kept (voltage_1m has a shorter retention than
 * voltage_1h) are read from voltage_1h, where the ≤30 min edge shift remains.
 */
import type { Pool } from '@spms/db';

export type Bucket = 'raw' | '1m' | '1h' | '1d';

export interface VoltagePoint {
  t: Date;
  /** Keyset tie-breaker (raw samples: msg id). */
  k: string;
  min: number;
  avg: number;
  max: number;
  samples: number;
}

const DAY = 86_400_000;

/** Auto bucketing: about ≤1 500 points per series. */
export function autoBucket(fromMs: number, toMs: number): Bucket {
  const span = toMs - fromMs;
  if (span <= DAY / 2) return 'raw';
  if (span <= DAY) return '1m';
  if (span <= 62 * DAY) return '1h';
  return '1d';
}

function sqlFor(bucket: Bucket): string {
  switch (bucket) {
    case 'raw':
      // Keyset on (ts, msg_id): several samples may share an instant.
      return `SELECT ts AS t, volts::float8 AS min, volts::float8 AS avg, volts::float8 AS max, 1 AS samples, msg_id AS k
                FROM voltage_samples WHERE device_id = $1 AND ts >= $2 AND ts < $3 AND (ts, msg_id) > ($4, $6)`;
    case '1m':
    case '1h':
      return `SELECT bucket AS t, v_min::float8 AS min, v_avg::float8 AS avg, v_max::float8 AS max, samples::int AS samples
                FROM ${bucket === '1m' ? 'voltage_1m' : 'voltage_1h'}
               WHERE device_id = $1 AND bucket >= $2 AND bucket < $3 AND bucket > $4 AND $6::text IS NOT NULL`;
    case '1d':
      return `WITH m AS (SELECT bucket, v_min, v_max, v_sum, samples FROM voltage_1m
                          WHERE device_id = $1 AND bucket >= $2 AND bucket < $3),
                    first AS (SELECT min(bucket) AS b FROM m),
                    h AS (SELECT v.bucket, v.v_min, v.v_max, v.v_sum, v.samples FROM voltage_1h v, first
                           WHERE v.device_id = $1 AND v.bucket >= $2 AND v.bucket < $3
                             AND v.bucket + interval '1 hour' <= COALESCE(first.b, $3))
              SELECT * FROM (
                SELECT (date_trunc('day', bucket AT TIME ZONE $6) AT TIME ZONE $6) AS t,
                       min(v_min)::float8 AS min, (sum(v_sum) / sum(samples))::float8 AS avg,
                       max(v_max)::float8 AS max, sum(samples)::int AS samples
                  FROM (SELECT * FROM m UNION ALL SELECT * FROM h) u
                 GROUP BY 1) x WHERE t > $4 AND $6::text IS NOT NULL`;
  }
}

/** One page of points after `after` (exclusive), oldest first. */
export async function voltagePage(
  pg: Pool,
  deviceId: string,
  bucket: Bucket,
  range: { from: Date; to: Date; after?: { t: Date; k: string } },
  limit: number,
  timeZone: string,
): Promise<VoltagePoint[]> {
  const after = range.after ?? { t: new Date(range.from.getTime() - 1), k: '' };
  // $6: the raw keyset's msg id, or the zone for daily buckets (kept typed in the other queries).
  const sixth = bucket === '1d' ? timeZone : after.k;
  const params: unknown[] = [deviceId, range.from, range.to, after.t, limit, sixth];
  const order = bucket === 'raw' ? 'ORDER BY t, k' : 'ORDER BY t';
  const res = await pg.query(`${sqlFor(bucket)} ${order} LIMIT $5`, params);
  return res.rows.map((r) => ({ t: r.t, k: r.k ?? '', min: r.min, avg: r.avg, max: r.max, samples: r.samples }));
}
