-- Reports from rollups (docs/reports-rollups.md): per device, line and local day of the
-- rollup zone, what the reliability reports sum, kept by triggers in the same transaction
-- as every change that moves the numbers (outages written by the worker, the sweeper, an
-- import or a reprocess; planned interruptions; a device's region; offline periods), each
-- recomputing the touched device-line-days from the raw rows.
--
-- A row aggregates the outages of one (device, line) that began on `start_day` with one
-- planned flag and class, as seen inside local day `day`:
--   started/open/closed  outages that began that day (only on the row with day = start_day)
--   known_ms             known (online) time inside `day` of the closed ones: a one-day
--                        outage adds its duration_ms; an outage crossing midnights adds per
--                        day its time minus offline time (device_offline_periods) and, on
--                        its last day, the rest of its duration_ms, so its days add up to
--                        exactly duration_ms
--   longest_ms           the longest duration_ms of the closed ones that ended that day
-- A closed outage has one row per local day it covers, an open one only its start row.
CREATE TABLE IF NOT EXISTS "outage_day_rollups" (
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL,
    "day" DATE NOT NULL,
    "start_day" DATE NOT NULL,
    "planned" BOOLEAN NOT NULL,
    "class" TEXT NOT NULL,
    "started" INTEGER NOT NULL DEFAULT 0,
    "open" INTEGER NOT NULL DEFAULT 0,
    "closed" INTEGER NOT NULL DEFAULT 0,
    "known_ms" BIGINT NOT NULL DEFAULT 0,
    "longest_ms" BIGINT,
    CONSTRAINT "outage_day_rollups_pkey" PRIMARY KEY ("device_id", "line", "day", "start_day", "planned", "class")
);
CREATE INDEX IF NOT EXISTS "outage_day_rollups_day_idx" ON "outage_day_rollups" ("day");

-- The zone whose local days the rollups use (one row). The worker rebuilds the rollups at
-- start when SPMS_TIME_ZONE differs; the API reads rollups only when the zones match.
CREATE TABLE IF NOT EXISTS "outage_rollup_settings" (
    "id" SMALLINT NOT NULL DEFAULT 1,
    "time_zone" TEXT NOT NULL,
    "built_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "outage_rollup_settings_pkey" PRIMARY KEY ("id")
);
INSERT INTO "outage_rollup_settings" ("id", "time_zone") VALUES (1, 'Asia/Colombo') ON CONFLICT ("id") DO NOTHING;

CREATE OR REPLACE FUNCTION outage_rollup_zone() RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT COALESCE((SELECT time_zone FROM outage_rollup_settings WHERE id = 1), 'Asia/Colombo')
$$;

-- Last local day an outage covers: the day of its last millisecond (an outage ending at
-- midnight does not touch the next day); the start day while it is open.
CREATE OR REPLACE FUNCTION outage_rollup_end_day(s timestamptz, e timestamptz, tz text) RETURNS date
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN e > s THEN ((e - interval '1 millisecond') AT TIME ZONE tz)::date
              ELSE (s AT TIME ZONE tz)::date END
$$;

-- Recomputes the rows of lines (p_device[i], p_line[i]) over local days p_from[i]..p_to[i]
-- (inclusive) from the outages: deletes them, then inserts what the outages give now.
--
-- Concurrent writers of one device (the worker, the sweeper, an operator's planned window)
-- are serialized per device by a transaction-scoped advisory lock taken in device order, so
-- the second recomputes from what the first committed; a statement touching more than 1,000
-- devices (a bulk import) locks the whole table instead. A rebuild (EXCLUSIVE) waits for
-- and blocks them all; the zone is read after the locks, so it is the rebuild's.
CREATE OR REPLACE FUNCTION outage_rollups_refresh(p_device uuid[], p_line int2[], p_from date[], p_to date[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  tz text;
  kl record;
  t0 timestamptz;
  t1 timestamptz;
BEGIN
  IF p_device IS NULL OR cardinality(p_device) = 0 THEN RETURN; END IF;
  IF (SELECT count(DISTINCT d) FROM unnest(p_device) d) > 1000 THEN
    LOCK TABLE outage_day_rollups IN SHARE ROW EXCLUSIVE MODE;
  ELSE
    LOCK TABLE outage_day_rollups IN ROW EXCLUSIVE MODE;
    PERFORM pg_advisory_xact_lock(1919904880, hashtext(x.d::text))
       FROM (SELECT DISTINCT d FROM unnest(p_device) d ORDER BY d) x;
  END IF;
  tz := outage_rollup_zone();
  DELETE FROM outage_day_rollups r
   USING (SELECT d, l, min(f) AS d0, max(t) AS d1 FROM unnest(p_device, p_line, p_from, p_to) x(d, l, f, t)
           GROUP BY d, l) k
   WHERE r.device_id = k.d AND r.line = k.l AND r.day BETWEEN k.d0 AND k.d1;
  -- One line at a time: with scalar parameters PL/pgSQL's cached plan is the right one (index
  -- look-ups of that line's outages), so a worker's statement costs no planning.
  FOR kl IN SELECT x.d, x.l, min(x.f) AS d0, max(x.t) AS d1 FROM unnest(p_device, p_line, p_from, p_to) x(d, l, f, t)
            GROUP BY x.d, x.l LOOP
  t0 := (kl.d0::timestamp AT TIME ZONE tz);
  t1 := ((kl.d1 + 1)::timestamp AT TIME ZONE tz);
  INSERT INTO outage_day_rollups (device_id, line, day, start_day, planned, class, started, open, closed, known_ms, longest_ms)
  WITH o AS (
    -- the outages starting inside the days, and the one before them that may run into them
    -- (outages of a line do not overlap, so only the latest earlier one can)
    SELECT o.* FROM outages o WHERE o.device_id = kl.d AND o.line = kl.l AND o.started_at >= t0 AND o.started_at < t1
    UNION ALL
    SELECT b.* FROM (SELECT * FROM outages o WHERE o.device_id = kl.d AND o.line = kl.l AND o.started_at < t0
                      ORDER BY o.started_at DESC LIMIT 1) b
     WHERE b.ended_at IS NULL OR b.ended_at > t0),
  od AS (
    SELECT o.id, o.device_id, o.line, o.started_at, o.ended_at, o.class,
           COALESCE(o.duration_ms,
                    (extract(epoch FROM o.ended_at - o.started_at) * 1000)::bigint - o.unknown_ms) AS dur,
           (o.started_at AT TIME ZONE tz)::date AS sd,
           outage_rollup_end_day(o.started_at, o.ended_at, tz) AS ed,
           -- as the reports' plannedExpr: the worker's flag, or a window of the device or its region
           (o.planned OR EXISTS (SELECT 1 FROM planned_interruptions pi JOIN devices dv ON dv.id = o.device_id
                                  WHERE o.started_at >= pi.starts_at AND o.started_at < pi.ends_at
                                    AND (pi.device_id = o.device_id OR (pi.device_id IS NULL AND pi.region = dv.region))))
             AS planned
      FROM o),
  p AS (
    SELECT od.*, g.day::date AS day,
           CASE WHEN od.ended_at IS NULL OR od.sd = od.ed THEN NULL::bigint ELSE
             (extract(epoch FROM least(od.ended_at, ((g.day + interval '1 day')::timestamp AT TIME ZONE tz))
                                 - greatest(od.started_at, (g.day::timestamp AT TIME ZONE tz))) * 1000)::bigint
             - COALESCE((SELECT sum((extract(epoch FROM
                   least(COALESCE(w.ended_at, 'infinity'), od.ended_at, ((g.day + interval '1 day')::timestamp AT TIME ZONE tz))
                   - greatest(w.started_at, od.started_at, (g.day::timestamp AT TIME ZONE tz))) * 1000)::bigint)
                  FROM device_offline_periods w
                 WHERE w.device_id = od.device_id
                   AND w.started_at < least(od.ended_at, ((g.day + interval '1 day')::timestamp AT TIME ZONE tz))
                   AND COALESCE(w.ended_at, 'infinity') > greatest(od.started_at, (g.day::timestamp AT TIME ZONE tz))), 0)
           END AS wk
      FROM od CROSS JOIN LATERAL generate_series(od.sd::timestamp, od.ed::timestamp, interval '1 day') g(day)),
  q AS (
    SELECT p.*,
           CASE WHEN p.ended_at IS NULL THEN 0::bigint
                WHEN p.sd = p.ed THEN p.dur
                WHEN p.day < p.ed THEN p.wk
                ELSE p.dur - sum(CASE WHEN p.day < p.ed THEN p.wk ELSE 0 END) OVER (PARTITION BY p.id) END AS known
      FROM p)
  SELECT q.device_id, q.line, q.day, q.sd, q.planned, q.class,
         count(*) FILTER (WHERE q.day = q.sd)::int,
         count(*) FILTER (WHERE q.day = q.sd AND q.ended_at IS NULL)::int,
         count(*) FILTER (WHERE q.day = q.sd AND q.ended_at IS NOT NULL)::int,
         COALESCE(sum(q.known), 0)::bigint,
         max(q.dur) FILTER (WHERE q.ended_at IS NOT NULL AND q.day = q.ed)
    FROM q
   WHERE q.day BETWEEN kl.d0 AND kl.d1
   GROUP BY q.device_id, q.line, q.day, q.sd, q.planned, q.class;
  END LOOP;
END;
$$;

CREATE OR REPLACE FUNCTION outage_rollups_on_outages() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tz text := outage_rollup_zone();
  a_dev uuid[]; a_line int2[]; a_from date[]; a_to date[];
BEGIN
  IF TG_OP = 'INSERT' THEN
    SELECT array_agg(device_id), array_agg(line), array_agg((started_at AT TIME ZONE tz)::date),
           array_agg(outage_rollup_end_day(started_at, ended_at, tz))
      INTO a_dev, a_line, a_from, a_to FROM new_rows;
  ELSIF TG_OP = 'DELETE' THEN
    SELECT array_agg(device_id), array_agg(line), array_agg((started_at AT TIME ZONE tz)::date),
           array_agg(outage_rollup_end_day(started_at, ended_at, tz))
      INTO a_dev, a_line, a_from, a_to FROM old_rows;
  ELSE
    -- only changes of what the rollups hold (not e.g. whole_site or updated_at)
    SELECT array_agg(x.device_id), array_agg(x.line), array_agg((x.started_at AT TIME ZONE tz)::date),
           array_agg(outage_rollup_end_day(x.started_at, x.ended_at, tz))
      INTO a_dev, a_line, a_from, a_to
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     CROSS JOIN LATERAL (VALUES (o.device_id, o.line, o.started_at, o.ended_at),
                                (n.device_id, n.line, n.started_at, n.ended_at)) x(device_id, line, started_at, ended_at)
     WHERE (o.device_id, o.line, o.started_at, o.ended_at, o.duration_ms, o.unknown_ms, o.class, o.planned)
           IS DISTINCT FROM (n.device_id, n.line, n.started_at, n.ended_at, n.duration_ms, n.unknown_ms, n.class, n.planned);
  END IF;
  PERFORM outage_rollups_refresh(a_dev, a_line, a_from, a_to);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_rollups_insert ON "outages";
CREATE TRIGGER outage_rollups_insert AFTER INSERT ON "outages"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_outages();
DROP TRIGGER IF EXISTS outage_rollups_update ON "outages";
CREATE TRIGGER outage_rollups_update AFTER UPDATE ON "outages"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_outages();
DROP TRIGGER IF EXISTS outage_rollups_delete ON "outages";
CREATE TRIGGER outage_rollups_delete AFTER DELETE ON "outages"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_outages();

-- Recomputes the lines of the outages of the devices (or regions) that began inside the
-- windows [p_from[i], p_to[i]) (p_device[i] or, when null, every device of p_region[i]).
CREATE OR REPLACE FUNCTION outage_rollups_refresh_windows(p_device uuid[], p_region text[], p_from timestamptz[], p_to timestamptz[])
RETURNS void LANGUAGE plpgsql SET plan_cache_mode = force_custom_plan AS $$
DECLARE
  tz text := outage_rollup_zone();
  a_dev uuid[]; a_line int2[]; a_from date[]; a_to date[];
BEGIN
  SELECT array_agg(o.device_id), array_agg(o.line), array_agg((o.started_at AT TIME ZONE tz)::date),
         array_agg(outage_rollup_end_day(o.started_at, o.ended_at, tz))
    INTO a_dev, a_line, a_from, a_to
    FROM unnest(p_device, p_region, p_from, p_to) w(device_id, region, starts_at, ends_at)
    JOIN devices d ON d.id = w.device_id OR (w.device_id IS NULL AND d.region = w.region)
    JOIN outages o ON o.device_id = d.id AND o.started_at >= w.starts_at AND o.started_at < w.ends_at;
  PERFORM outage_rollups_refresh(a_dev, a_line, a_from, a_to);
END;
$$;

-- A planned interruption added, moved or removed changes the planned flag of the outages
-- that began inside it.
CREATE OR REPLACE FUNCTION outage_rollups_on_planned() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_dev uuid[]; a_region text[]; a_from timestamptz[]; a_to timestamptz[];
  b_dev uuid[]; b_region text[]; b_from timestamptz[]; b_to timestamptz[];
BEGIN
  IF TG_OP <> 'DELETE' THEN
    SELECT array_agg(device_id), array_agg(region), array_agg(starts_at), array_agg(ends_at)
      INTO a_dev, a_region, a_from, a_to FROM new_rows;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT array_agg(device_id), array_agg(region), array_agg(starts_at), array_agg(ends_at)
      INTO b_dev, b_region, b_from, b_to FROM old_rows;
  END IF;
  PERFORM outage_rollups_refresh_windows(COALESCE(a_dev, '{}') || COALESCE(b_dev, '{}'),
    COALESCE(a_region, '{}') || COALESCE(b_region, '{}'), COALESCE(a_from, '{}') || COALESCE(b_from, '{}'),
    COALESCE(a_to, '{}') || COALESCE(b_to, '{}'));
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_rollups_planned_insert ON "planned_interruptions";
CREATE TRIGGER outage_rollups_planned_insert AFTER INSERT ON "planned_interruptions"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_planned();
DROP TRIGGER IF EXISTS outage_rollups_planned_update ON "planned_interruptions";
CREATE TRIGGER outage_rollups_planned_update AFTER UPDATE ON "planned_interruptions"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_planned();
DROP TRIGGER IF EXISTS outage_rollups_planned_delete ON "planned_interruptions";
CREATE TRIGGER outage_rollups_planned_delete AFTER DELETE ON "planned_interruptions"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_planned();

-- A device moved to another region: region-wide planned windows of the old and the new
-- region may now (not) cover its outages. Region and customer themselves are read from
-- the device when a report runs (today's semantics: the current attribution), so a move
-- needs no other recompute.
CREATE OR REPLACE FUNCTION outage_rollups_on_device_region() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  a_dev uuid[]; a_region text[]; a_from timestamptz[]; a_to timestamptz[];
BEGIN
  SELECT array_agg(n.id), array_agg(NULL::text), array_agg(pi.starts_at), array_agg(pi.ends_at)
    INTO a_dev, a_region, a_from, a_to
    FROM old_rows o JOIN new_rows n ON n.id = o.id AND n.region IS DISTINCT FROM o.region
    JOIN planned_interruptions pi ON pi.device_id IS NULL AND pi.region IN (o.region, n.region);
  PERFORM outage_rollups_refresh_windows(a_dev, a_region, a_from, a_to);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_rollups_device_region ON "devices";
CREATE TRIGGER outage_rollups_device_region AFTER UPDATE ON "devices"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION outage_rollups_on_device_region();

-- Offline time inside an outage that crosses midnight decides how its duration is split
-- between its days: an offline period written, closed or removed afterwards recomputes the
-- device's lines with such an outage in the period's days.
CREATE OR REPLACE FUNCTION outage_rollups_on_offline() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tz text := outage_rollup_zone();
  a_dev uuid[]; a_line int2[]; a_from date[]; a_to date[];
  w_dev uuid[]; w_from timestamptz[]; w_to timestamptz[];
  v_dev uuid[]; v_from timestamptz[]; v_to timestamptz[];
BEGIN
  IF TG_OP <> 'DELETE' THEN
    SELECT array_agg(device_id), array_agg(started_at), array_agg(COALESCE(ended_at, 'infinity'))
      INTO w_dev, w_from, w_to FROM new_rows;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    SELECT array_agg(device_id), array_agg(started_at), array_agg(COALESCE(ended_at, 'infinity'))
      INTO v_dev, v_from, v_to FROM old_rows;
  END IF;
  -- to the end of the line's days: the outage's last day takes the rest of its duration
  SELECT array_agg(r.device_id), array_agg(r.line), array_agg(r.start_day), array_agg('infinity'::date)
    INTO a_dev, a_line, a_from, a_to
    FROM unnest(COALESCE(w_dev, '{}') || COALESCE(v_dev, '{}'), COALESCE(w_from, '{}') || COALESCE(v_from, '{}'),
                COALESCE(w_to, '{}') || COALESCE(v_to, '{}')) w(device_id, f, t)
    JOIN outage_day_rollups r ON r.device_id = w.device_id AND r.start_day < r.day
     AND r.day >= (w.f AT TIME ZONE tz)::date
     AND (w.t = 'infinity' OR r.day <= (w.t AT TIME ZONE tz)::date);
  PERFORM outage_rollups_refresh(a_dev, a_line, a_from, a_to);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_rollups_offline_insert ON "device_offline_periods";
CREATE TRIGGER outage_rollups_offline_insert AFTER INSERT ON "device_offline_periods"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_offline();
DROP TRIGGER IF EXISTS outage_rollups_offline_update ON "device_offline_periods";
CREATE TRIGGER outage_rollups_offline_update AFTER UPDATE ON "device_offline_periods"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_offline();
DROP TRIGGER IF EXISTS outage_rollups_offline_delete ON "device_offline_periods";
CREATE TRIGGER outage_rollups_offline_delete AFTER DELETE ON "device_offline_periods"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_rollups_on_offline();

-- Every line over all its days, in `tz` (the backfill below, and the worker when
-- SPMS_TIME_ZONE changed). Takes the settings row's lock first: writers of outages wait.
CREATE OR REPLACE FUNCTION outage_rollups_rebuild(tz text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  a_dev uuid[]; a_line int2[]; a_from date[]; a_to date[];
BEGIN
  PERFORM now() AT TIME ZONE tz; -- an unknown zone fails here, before anything is deleted
  LOCK TABLE outage_day_rollups IN EXCLUSIVE MODE;
  UPDATE outage_rollup_settings SET time_zone = tz, built_at = now() WHERE id = 1;
  DELETE FROM outage_day_rollups;
  SELECT array_agg(device_id), array_agg(line), array_agg(d0), array_agg(d1)
    INTO a_dev, a_line, a_from, a_to
    FROM (SELECT device_id, line, (min(started_at) AT TIME ZONE tz)::date AS d0,
                 max(outage_rollup_end_day(started_at, ended_at, tz)) AS d1
            FROM outages GROUP BY device_id, line) x;
  PERFORM outage_rollups_refresh(a_dev, a_line, a_from, a_to);
END;
$$;

SELECT outage_rollups_rebuild(outage_rollup_zone());
