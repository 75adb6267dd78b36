-- The fleet view kept up to date as it changes (GET /api/status/compact reads it instead of
-- joining and grouping 80,000 line rows per answer). One row per device with what the view
-- shows of its live state: activity, connection, voltage, and its lines folded into bit
-- masks (bit n-1 = line n). Registry facts (name, region, place…) stay in "devices" and are
-- joined when read; line labels are copied here because reading them from device_lines
-- would bring back the 80,000-row join.
--
-- Who keeps it current, in the same transaction as the change:
--   * the worker: every ingest batch and every sweep calls status_rows_refresh() for its
--     devices after its other writes, under the per-device advisory lock and before its
--     events are numbered (outbox.ts), so a reader's snapshot that holds events up to seq N
--     holds exactly the rows those transactions wrote;
--   * triggers on device_lines (labels, monitored lines: the API's registry edits), which
--     take the same per-device lock first, so a registry edit and an ingest batch of the
--     same device never overwrite each other's row with older facts.
-- Rows of deleted devices go with them (ON DELETE CASCADE).
CREATE TABLE IF NOT EXISTS "device_status_rows" (
    "device_id" UUID NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT false,
    "connection" TEXT NOT NULL DEFAULT 'disconnected',
    "last_activity_at" TIMESTAMPTZ(3),
    "inactive_since" TIMESTAMPTZ(3),
    "volts" REAL,
    "volts_at" TIMESTAMPTZ(3),
    "volts_level" TEXT,
    -- "n:label" of each line, in line order, joined with U+001F (null: no lines)
    "line_labels" TEXT,
    "lines_disabled" INTEGER NOT NULL DEFAULT 0,
    -- lines with at least one report / last report powered / an open outage
    "lines_reported" INTEGER NOT NULL DEFAULT 0,
    "lines_powered" INTEGER NOT NULL DEFAULT 0,
    "lines_outage" INTEGER NOT NULL DEFAULT 0,
    -- since (epoch ms) of each line in line_labels order; null where never reported
    "line_since" DOUBLE PRECISION[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),

    CONSTRAINT "device_status_rows_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_status_rows_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Recomputes the rows of the given devices from device_state, device_lines, line_state and
-- the open outages (labels included; the labels of an existing row are the triggers' to
-- change, see below).
CREATE OR REPLACE FUNCTION status_rows_refresh(ids UUID[]) RETURNS void
LANGUAGE sql AS $$
-- One grouped pass over the batch's lines (hash joins), not one sub-query per device.
INSERT INTO device_status_rows AS r (device_id, active, connection, last_activity_at, inactive_since, volts, volts_at,
  volts_level, line_labels, lines_disabled, lines_reported, lines_powered, lines_outage, line_since, updated_at)
SELECT d.id, COALESCE(s.active, false), COALESCE(s.connection, 'disconnected'), s.last_activity_at, s.inactive_since,
       s.volts, s.volts_at, s.volts_level, l.labels, COALESCE(l.disabled, 0), COALESCE(l.reported, 0),
       COALESCE(l.powered, 0), COALESCE(l.outages, 0), l.since, now()
  FROM (SELECT DISTINCT unnest(ids) AS id) q
  JOIN devices d ON d.id = q.id
  LEFT JOIN device_state s ON s.device_id = d.id
  LEFT JOIN (
    SELECT dl.device_id,
           string_agg(dl.number || ':' || dl.label, E'\x1f' ORDER BY dl.number) AS labels,
           bit_or(CASE WHEN NOT dl.enabled THEN 1 << (dl.number - 1) ELSE 0 END) AS disabled,
           bit_or(CASE WHEN ls.powered IS NOT NULL THEN 1 << (dl.number - 1) ELSE 0 END) AS reported,
           bit_or(CASE WHEN ls.powered THEN 1 << (dl.number - 1) ELSE 0 END) AS powered,
           bit_or(CASE WHEN o.device_id IS NOT NULL THEN 1 << (dl.number - 1) ELSE 0 END) AS outages,
           array_agg(round(date_part('epoch', ls.since) * 1000) ORDER BY dl.number) AS since
      FROM device_lines dl
      LEFT JOIN line_state ls ON ls.device_id = dl.device_id AND ls.line = dl.number
      LEFT JOIN (SELECT DISTINCT device_id, line FROM outages WHERE ended_at IS NULL AND device_id = ANY(ids)) o
        ON o.device_id = dl.device_id AND o.line = dl.number
     WHERE dl.device_id = ANY(ids)
     GROUP BY dl.device_id) l ON l.device_id = d.id
ON CONFLICT (device_id) DO UPDATE SET
  active = EXCLUDED.active, connection = EXCLUDED.connection, last_activity_at = EXCLUDED.last_activity_at,
  inactive_since = EXCLUDED.inactive_since, volts = EXCLUDED.volts, volts_at = EXCLUDED.volts_at,
  volts_level = EXCLUDED.volts_level, lines_reported = EXCLUDED.lines_reported,
  lines_powered = EXCLUDED.lines_powered, lines_outage = EXCLUDED.lines_outage, line_since = EXCLUDED.line_since,
  updated_at = EXCLUDED.updated_at
$$;

-- A registry edit of lines: lock the devices as ingest does (sorted, the worker's key), then
-- recompute their rows whole, labels included. Only devices that already have a row are
-- locked: lines of a device created in this transaction (an import of thousands) need no
-- lock, as no ingest batch can see that device yet, and thousands of locks in one
-- transaction could exhaust the lock table. Deleted lines take no lock: a device being
-- deleted holds its row lock while an ingest batch of it may wait on that row (foreign key),
-- and its status row goes with it anyway.
CREATE OR REPLACE FUNCTION status_rows_lines_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  ids UUID[];
BEGIN
  SELECT array_agg(DISTINCT device_id) INTO ids FROM changed;
  IF ids IS NULL THEN RETURN NULL; END IF;
  IF TG_OP <> 'DELETE' THEN
    PERFORM pg_advisory_xact_lock(k)
       FROM (SELECT DISTINCT hashtextextended(x::text, 0) AS k FROM unnest(ids) AS x
              WHERE EXISTS (SELECT 1 FROM device_status_rows r WHERE r.device_id = x) ORDER BY 1) AS s;
  END IF;
  PERFORM status_rows_refresh(ids);
  UPDATE device_status_rows r SET line_labels = x.labels, lines_disabled = x.disabled
    FROM (SELECT dl.device_id,
                 string_agg(dl.number || ':' || dl.label, E'\x1f' ORDER BY dl.number) AS labels,
                 bit_or(CASE WHEN NOT dl.enabled THEN 1 << (dl.number - 1) ELSE 0 END) AS disabled
            FROM device_lines dl WHERE dl.device_id = ANY(ids) GROUP BY dl.device_id) x
   WHERE r.device_id = x.device_id;
  UPDATE device_status_rows r SET line_labels = NULL, lines_disabled = 0
   WHERE r.device_id = ANY(ids) AND NOT EXISTS (SELECT 1 FROM device_lines dl WHERE dl.device_id = r.device_id);
  RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS device_lines_status_ins ON "device_lines";
CREATE TRIGGER device_lines_status_ins AFTER INSERT ON "device_lines"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION status_rows_lines_changed();
DROP TRIGGER IF EXISTS device_lines_status_upd ON "device_lines";
CREATE TRIGGER device_lines_status_upd AFTER UPDATE ON "device_lines"
  REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION status_rows_lines_changed();
DROP TRIGGER IF EXISTS device_lines_status_del ON "device_lines";
CREATE TRIGGER device_lines_status_del AFTER DELETE ON "device_lines"
  REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION status_rows_lines_changed();

-- Existing fleets: every device once.
SELECT status_rows_refresh(ARRAY(SELECT id FROM devices));
