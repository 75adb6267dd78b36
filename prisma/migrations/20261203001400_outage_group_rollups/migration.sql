-- A coarser rollup level for the reliability reports (docs/reports-rollups.md): a year's
-- report by region summed ~10^6 day rows (one per device, line and local day with an
-- outage), 1-3 s. outage_group_day_rollups holds the same sums per region, customer and
-- local day: at 25 regions and 10 customers a year is ~40,000 rows whatever the fleet size.
--
-- A row sums the day rows (outage_day_rollups) of the devices of one (region, customer),
-- their enabled lines only, with one (day, start_day, planned, class), as the reports read
-- them: region, customer and enabled lines are the device's current ones, and day rows
-- whose start_day lies before the local day the device entered service (its registration
-- or its first imported report) are left out. `first_day` marks the sums of rows whose
-- start_day is that first day when the device entered service after its midnight: a report
-- counts that partial day from raw rows (its "head"), the daily SAIDI of major event days
-- counts it from the rollups.
--
-- Who keeps it: every write of day rows marks its local days (outage_group_rollup_dirty,
-- one row per day and writing transaction, by a statement trigger on outage_day_rollups:
-- the worker's refresher, the planned-window and region triggers, a rebuild); so do the
-- changes of what a day row is attributed to (a device's region, customer or creation, its
-- lines added, removed or enabled, its imported history). The worker's refresher, right
-- after recomputing the day rows and in the same transaction, takes the marks (of committed
-- writers and its own) and recomputes those days whole (outage_group_rollups_refresh_dirty).
-- A report whose days (or major-event history) hold a mark reads the day rows instead.
CREATE TABLE IF NOT EXISTS "outage_group_day_rollups" (
    "id" BIGSERIAL NOT NULL,
    "region" TEXT,
    "customer" TEXT,
    "day" DATE NOT NULL,
    "start_day" DATE NOT NULL,
    "planned" BOOLEAN NOT NULL,
    "class" TEXT NOT NULL,
    "first_day" BOOLEAN NOT NULL,
    "started" INTEGER NOT NULL DEFAULT 0,
    "open" INTEGER NOT NULL DEFAULT 0,
    "closed" INTEGER NOT NULL DEFAULT 0,
    "known_ms" BIGINT NOT NULL DEFAULT 0,
    "longest_ms" BIGINT,
    CONSTRAINT "outage_group_day_rollups_pkey" PRIMARY KEY ("id")
);
CREATE INDEX IF NOT EXISTS "outage_group_day_rollups_day_idx" ON "outage_group_day_rollups" ("day");
CREATE INDEX IF NOT EXISTS "outage_group_day_rollups_start_day_idx" ON "outage_group_day_rollups" ("start_day");

-- Local days whose group rows are to be recomputed; one row per day and writing transaction
-- (as outage_rollup_dirty: writers never wait for each other).
CREATE TABLE IF NOT EXISTS "outage_group_rollup_dirty" (
    "day" DATE NOT NULL,
    "xid" BIGINT NOT NULL,
    CONSTRAINT "outage_group_rollup_dirty_pkey" PRIMARY KEY ("day", "xid")
);

-- Each device's enabled lines as a count and a bit mask (bit n-1: line n), kept by the
-- device_lines triggers below: every report read them by grouping 80,000 line rows (~50-80 ms
-- a query at 10,000 devices, two or three queries a report). Devices without an enabled line
-- have no row.
CREATE TABLE IF NOT EXISTS "device_line_masks" (
    "device_id" UUID NOT NULL,
    "lines" SMALLINT NOT NULL,
    "mask" INTEGER NOT NULL,
    CONSTRAINT "device_line_masks_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_line_masks_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

CREATE OR REPLACE FUNCTION device_line_masks_refresh(ids uuid[]) RETURNS void
LANGUAGE sql AS $$
  DELETE FROM device_line_masks m WHERE m.device_id = ANY(ids)
     AND NOT EXISTS (SELECT 1 FROM device_lines dl WHERE dl.device_id = m.device_id AND dl.enabled);
  INSERT INTO device_line_masks (device_id, lines, mask)
  SELECT dl.device_id, count(*), bit_or(1 << (dl.number - 1))
    FROM device_lines dl JOIN devices d ON d.id = dl.device_id
   WHERE dl.device_id = ANY(ids) AND dl.enabled
   GROUP BY dl.device_id
  ON CONFLICT (device_id) DO UPDATE SET lines = EXCLUDED.lines, mask = EXCLUDED.mask;
$$;

-- Recomputes the group rows of the given local days from the day rows. One transaction-scoped
-- lock for all recomputes (they are short: a day is ~3,000 day rows at 10,000 devices): a
-- second refresher waits, then its statements see the first one's rows and delete them.
-- Taken after the refresh's per-device locks, never before, so no cycle with them.
CREATE OR REPLACE FUNCTION outage_group_rollups_refresh_days(p_days date[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  tz text;
BEGIN
  IF p_days IS NULL OR cardinality(p_days) = 0 THEN RETURN; END IF;
  PERFORM pg_advisory_xact_lock(1919904881, 0);
  tz := outage_rollup_zone();
  DELETE FROM outage_group_day_rollups WHERE day = ANY(p_days);
  -- EXECUTE: planned for these days (a few: index look-ups per row; a rebuild: hash joins)
  EXECUTE $q$
  INSERT INTO outage_group_day_rollups (region, customer, day, start_day, planned, class, first_day,
                                        started, open, closed, known_ms, longest_ms)
  SELECT d.region, d.customer, r.day, r.start_day, r.planned, r.class,
         r.start_day = d.first_day AND d.partial,
         sum(r.started)::int, sum(r.open)::int, sum(r.closed)::int, sum(r.known_ms)::bigint, max(r.longest_ms)
    FROM outage_day_rollups r
    JOIN (SELECT dv.id, dv.region, dv.customer, (s.at AT TIME ZONE $2)::date AS first_day,
                 s.at <> ((s.at AT TIME ZONE $2)::date::timestamp AT TIME ZONE $2) AS partial
            FROM devices dv
            CROSS JOIN LATERAL (SELECT least(dv.created_at, (SELECT h.first_report_at FROM device_history_imports h
                                                             WHERE h.device_id = dv.id)) AS at) s) d
      ON d.id = r.device_id
    JOIN device_line_masks m ON m.device_id = r.device_id AND (m.mask >> (r.line - 1)) & 1 <> 0
   WHERE r.day = ANY($1) AND r.start_day >= d.first_day
   GROUP BY 1, 2, 3, 4, 5, 6, 7$q$ USING p_days, tz;
END;
$$;

-- The worker's refresher, after outage_rollups_refresh_dirty in the same transaction: takes
-- the marks of committed writers (another refresher's are skipped) and its own, recomputes
-- their days; returns how many marks it took.
CREATE OR REPLACE FUNCTION outage_group_rollups_refresh_dirty() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
  a date[];
  n int;
BEGIN
  WITH k AS (SELECT ctid FROM outage_group_rollup_dirty FOR UPDATE SKIP LOCKED),
  d AS (DELETE FROM outage_group_rollup_dirty r USING k WHERE r.ctid = k.ctid RETURNING r.day)
  SELECT array_agg(DISTINCT day), count(*) INTO a, n FROM d;
  PERFORM outage_group_rollups_refresh_days(a);
  RETURN n;
END;
$$;

-- Day rows written or removed: mark their days.
CREATE OR REPLACE FUNCTION outage_group_rollups_on_days() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO outage_group_rollup_dirty (day, xid)
    SELECT DISTINCT day, pg_current_xact_id()::text::bigint FROM new_rows ON CONFLICT DO NOTHING;
  ELSE
    INSERT INTO outage_group_rollup_dirty (day, xid)
    SELECT DISTINCT day, pg_current_xact_id()::text::bigint FROM old_rows ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_group_rollups_days_insert ON "outage_day_rollups";
CREATE TRIGGER outage_group_rollups_days_insert AFTER INSERT ON "outage_day_rollups"
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_days();
DROP TRIGGER IF EXISTS outage_group_rollups_days_delete ON "outage_day_rollups";
CREATE TRIGGER outage_group_rollups_days_delete AFTER DELETE ON "outage_day_rollups"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_days();

-- Every day with a day row of these devices (their rows are attributed anew).
CREATE OR REPLACE FUNCTION outage_group_rollups_mark_devices(p_device uuid[]) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO outage_group_rollup_dirty (day, xid)
  SELECT DISTINCT r.day, pg_current_xact_id()::text::bigint
    FROM outage_day_rollups r WHERE r.device_id = ANY(p_device)
  ON CONFLICT DO NOTHING
$$;

-- A device's region, customer or creation time changed (a move between groups, a first day
-- in service) or the device was deleted (its day rows stay until the refresher removes them
-- with its outages: a mark now keeps reports off the group rows meanwhile).
CREATE OR REPLACE FUNCTION outage_group_rollups_on_devices() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(id) INTO ids FROM old_rows;
  ELSE
    SELECT array_agg(n.id) INTO ids
      FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE n.region IS DISTINCT FROM o.region OR n.customer IS DISTINCT FROM o.customer
        OR n.created_at IS DISTINCT FROM o.created_at;
  END IF;
  IF ids IS NOT NULL THEN PERFORM outage_group_rollups_mark_devices(ids); END IF;
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_group_rollups_devices_update ON "devices";
CREATE TRIGGER outage_group_rollups_devices_update AFTER UPDATE ON "devices"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
  EXECUTE FUNCTION outage_group_rollups_on_devices();
DROP TRIGGER IF EXISTS outage_group_rollups_devices_delete ON "devices";
CREATE TRIGGER outage_group_rollups_devices_delete AFTER DELETE ON "devices"
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_devices();

-- Lines added, removed, enabled or disabled; history imported (the first day in service).
-- For lines, the devices' masks too: under the per-device lock the status-row trigger on
-- device_lines takes (the worker's key, fired before this one), so two edits of one
-- device's lines recompute its mask one after the other, the second seeing the first.
CREATE OR REPLACE FUNCTION outage_group_rollups_on_device_rows() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids uuid[];
BEGIN
  SELECT array_agg(DISTINCT device_id) INTO ids FROM changed;
  IF ids IS NULL THEN RETURN NULL; END IF;
  IF TG_TABLE_NAME = 'device_lines' THEN
    IF TG_OP <> 'DELETE' THEN
      PERFORM pg_advisory_xact_lock(k)
         FROM (SELECT DISTINCT hashtextextended(x::text, 0) AS k FROM unnest(ids) AS x
                WHERE EXISTS (SELECT 1 FROM device_status_rows r WHERE r.device_id = x) ORDER BY 1) AS s;
    END IF;
    PERFORM device_line_masks_refresh(ids);
  END IF;
  PERFORM outage_group_rollups_mark_devices(ids);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS outage_group_rollups_lines_insert ON "device_lines";
CREATE TRIGGER outage_group_rollups_lines_insert AFTER INSERT ON "device_lines"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();
DROP TRIGGER IF EXISTS outage_group_rollups_lines_update ON "device_lines";
CREATE TRIGGER outage_group_rollups_lines_update AFTER UPDATE ON "device_lines"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();
DROP TRIGGER IF EXISTS outage_group_rollups_lines_delete ON "device_lines";
CREATE TRIGGER outage_group_rollups_lines_delete AFTER DELETE ON "device_lines"
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();
DROP TRIGGER IF EXISTS outage_group_rollups_history_insert ON "device_history_imports";
CREATE TRIGGER outage_group_rollups_history_insert AFTER INSERT ON "device_history_imports"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();
DROP TRIGGER IF EXISTS outage_group_rollups_history_update ON "device_history_imports";
CREATE TRIGGER outage_group_rollups_history_update AFTER UPDATE ON "device_history_imports"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();
DROP TRIGGER IF EXISTS outage_group_rollups_history_delete ON "device_history_imports";
CREATE TRIGGER outage_group_rollups_history_delete AFTER DELETE ON "device_history_imports"
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION outage_group_rollups_on_device_rows();

-- Existing devices' masks; existing rollups, every day once (a day with rows already here was
-- built by an earlier run of this migration and is rebuilt the same).
INSERT INTO device_line_masks (device_id, lines, mask)
SELECT device_id, count(*), bit_or(1 << (number - 1)) FROM device_lines WHERE enabled GROUP BY device_id
ON CONFLICT (device_id) DO UPDATE SET lines = EXCLUDED.lines, mask = EXCLUDED.mask;
SELECT outage_group_rollups_refresh_days(ARRAY(SELECT DISTINCT day FROM outage_day_rollups));
