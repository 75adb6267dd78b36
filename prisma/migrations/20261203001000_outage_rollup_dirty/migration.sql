-- Outage day rollups off the ingest transaction (docs/reports-rollups.md). Measured with
-- `BENCH_STORM=1 npm run bench:worker` (2,000 devices, all 8 lines off then on, load
-- average 2-15): the storm drained in 22-41 s with 20261203000100's triggers recomputing in
-- the worker's transaction against 6-26 s with the triggers disabled.
--
-- The outage triggers now only record the touched (device, line, day range) in
-- outage_rollup_dirty, in the writer's transaction (so nothing is missed); the worker's
-- refresher (apps/worker/src/persist/rollups.ts) recomputes them with outage_rollups_refresh
-- and deletes them in one transaction. Reports whose period a dirty key overlaps are read
-- from raw rows until then (apps/api/src/services/reports.ts).
--
-- One row per key and writing transaction (xid): a writer never conflicts with another
-- writer nor waits for the refresher, and a refresher deletes only rows of committed writers
-- whose outages its recompute sees. A key re-marked by a transaction still in flight keeps
-- that transaction's row, so it stays dirty until a later round.
CREATE TABLE IF NOT EXISTS "outage_rollup_dirty" (
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL,
    "from_day" DATE NOT NULL,
    "to_day" DATE NOT NULL,
    "xid" BIGINT NOT NULL,
    CONSTRAINT "outage_rollup_dirty_pkey" PRIMARY KEY ("device_id", "line", "from_day", "to_day", "xid")
);

CREATE OR REPLACE FUNCTION outage_rollups_on_outages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tz text := outage_rollup_zone();
  x bigint := pg_current_xact_id()::text::bigint;
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outage_rollup_dirty (device_id, line, from_day, to_day, xid)
    SELECT DISTINCT device_id, line, (started_at AT TIME ZONE tz)::date, outage_rollup_end_day(started_at, ended_at, tz), x
      FROM new_rows
    ON CONFLICT DO NOTHING;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO outage_rollup_dirty (device_id, line, from_day, to_day, xid)
    SELECT DISTINCT device_id, line, (started_at AT TIME ZONE tz)::date, outage_rollup_end_day(started_at, ended_at, tz), x
      FROM old_rows
    ON CONFLICT DO NOTHING;
  ELSE
    -- The old and the new version of every updated row, with no join of the two transition
    -- tables: with 20261203000100's join (old_rows JOIN new_rows to skip changes the rollups
    -- do not hold) the worker's whole-site UPDATE, which recomputes nothing, was still among
    -- the most sampled statements of a storm (pg_stat_activity). Updates that change nothing
    -- the rollups hold (the whole-site flag of outages the same transaction opened,
    -- updated_at) mark keys already marked by this transaction, or cost the refresher a
    -- recompute, not the writer.
    INSERT INTO outage_rollup_dirty (device_id, line, from_day, to_day, xid)
    SELECT DISTINCT y.device_id, y.line, (y.started_at AT TIME ZONE tz)::date,
           outage_rollup_end_day(y.started_at, y.ended_at, tz), x
      FROM (SELECT device_id, line, started_at, ended_at FROM old_rows
            UNION ALL SELECT device_id, line, started_at, ended_at FROM new_rows) y
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;

-- Recomputes up to p_limit dirty rows of committed writers (rows locked by another refresher
-- are skipped) and deletes them, in the caller's transaction; returns how many it took.
-- The DELETE comes first: the recompute's statements see every writer whose row it took.
CREATE OR REPLACE FUNCTION outage_rollups_refresh_dirty(p_limit int) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  a_dev uuid[]; a_line int2[]; a_from date[]; a_to date[];
  n int;
BEGIN
  -- in key order (the primary key's index): the marks of one line (its outage opened by one
  -- transaction, closed by another) fall in one round and are recomputed once
  WITH k AS (SELECT ctid FROM outage_rollup_dirty ORDER BY device_id, line LIMIT p_limit FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM outage_rollup_dirty r USING k WHERE r.ctid = k.ctid
        RETURNING r.device_id, r.line, r.from_day, r.to_day)
  SELECT array_agg(device_id), array_agg(line), array_agg(from_day), array_agg(to_day), count(*)
    INTO a_dev, a_line, a_from, a_to, n FROM d;
  PERFORM outage_rollups_refresh(a_dev, a_line, a_from, a_to);
  RETURN n;
END;
$$;

-- Rows written before this migration are already in the rollups (the old triggers recomputed
-- them in their transactions), so nothing needs marking here.
