/**
 * Day rollups of outages for the reliability reports (outage_day_rollups, migration
 * 20261203000100; docs/reports-rollups.md). They are kept by database triggers in the same
 * transaction as every outage write of this worker (outages-store.ts, line-reprocess,
 * the sweeper), so nothing here runs per batch. What the worker owns is their zone: local
 * days are days of SPMS_TIME_ZONE, and when that setting changed since the rollups were
 * built, they are rebuilt once at start, in one transaction (writers wait meanwhile).
 */
import { type Pool, withTransaction } from '@spms/db';
import type { Logger } from '@spms/log';

export async function ensureRollupZone(pool: Pool, timeZone: string, logger: Logger): Promise<void> {
  await withTransaction(pool, async (tx) => {
    // Row lock: of several workers starting together, one rebuilds and the others then see its zone.
    const { rows } = await tx.query<{ time_zone: string }>(
      'SELECT time_zone FROM outage_rollup_settings WHERE id = 1 FOR UPDATE',
    );
    const current = rows[0]?.time_zone ?? null;
    if (current === timeZone) return;
    const t0 = Date.now();
    if (rows.length === 0)
      await tx.query('INSERT INTO outage_rollup_settings (id, time_zone) VALUES (1, $1)', [timeZone]);
    await tx.query('SELECT outage_rollups_rebuild($1)', [timeZone]);
    logger.info({ from: current, to: timeZone, ms: Date.now() - t0 }, 'outage day rollups rebuilt for SPMS_TIME_ZONE');
  });
}

/** Dirty rows recomputed per transaction: at most 1,000 devices, so the refresh takes
 *  per-device locks (more would lock the rollups table against the synchronous triggers). */
export const ROLLUP_REFRESH_LIMIT = 1000;

/**
 * The rollups' refresher (migration 20261203001000): the outage triggers only mark the
 * touched device-line-days dirty in the writer's transaction; this recomputes them off the
 * ingest path, one transaction of up to `limit` marks every `intervalMs` (marks left behind
 * during a storm coalesce: a line marked twice is recomputed once). A round that found a full
 * `limit` of marks is followed sooner, after a pause as long as the round took (at most
 * `intervalMs`): a backlog drains at about half of one core per worker process instead of
 * `limit` marks a second (a 10,000-device storm left ~150,000 marks, ~150 s of rounds at one
 * a second, while reports read raw rows), and the ingest keeps the other half. Safe with several
 * workers (the marks are taken FOR UPDATE SKIP LOCKED). The group rows (sums per region,
 * customer and day that reports by region or customer read) follow in the same transaction.
 */
export function startRollupRefresher(opts: { pool: Pool; logger: Logger; intervalMs?: number; limit?: number }): {
  close(): Promise<void>;
  runOnce(): Promise<number>;
} {
  const { pool, logger } = opts;
  const intervalMs = opts.intervalMs ?? 1000;
  const limit = opts.limit ?? ROLLUP_REFRESH_LIMIT;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  // Day rows, then in the same transaction the group rows of the days it touched (their
  // marks are its own writes) and of other committed marks (migration 20261203001400).
  const round = () =>
    withTransaction(pool, async (tx) => {
      const { rows } = await tx.query<{ n: number }>('SELECT outage_rollups_refresh_dirty($1) AS n', [limit]);
      const group = await tx.query<{ n: number }>('SELECT outage_group_rollups_refresh_dirty() AS n');
      const marks = rows[0]?.n ?? 0;
      return { marks, total: marks + (group.rows[0]?.n ?? 0) };
    });
  const runOnce = async () => (await round()).total;
  const tick = () => {
    const t0 = performance.now();
    let delay = intervalMs;
    running = round()
      .then(({ marks }) => {
        if (marks >= limit) delay = Math.min(intervalMs, performance.now() - t0);
      })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'outage rollup refresh failed'))
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, delay);
      });
  };
  timer = setTimeout(tick, intervalMs);
  return {
    runOnce,
    async close() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
