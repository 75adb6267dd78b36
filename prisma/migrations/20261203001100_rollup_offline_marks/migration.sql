-- An offline period written, closed or removed changes how an outage crossing midnight splits
-- its duration between days (docs/reports-rollups.md). 20261203000100 recomputed at once the
-- lines it found in outage_day_rollups; with the outage triggers now only marking keys
-- (20261203001000), those rows can still lack an outage whose mark the refresher has not
-- taken yet, and a recompute racing the refresher could leave a split that no mark would fix.
-- Now the period's trigger marks, in the writer's transaction, every outage of the device that
-- overlaps the period (found in outages, not in the rollups), and the refresher recomputes
-- them like any other mark: nothing synchronous on the ingest path, nothing missed.
CREATE OR REPLACE FUNCTION outage_rollups_on_offline() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  tz text := outage_rollup_zone();
  x bigint := pg_current_xact_id()::text::bigint;
BEGIN
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO outage_rollup_dirty (device_id, line, from_day, to_day, xid)
    SELECT DISTINCT o.device_id, o.line, (o.started_at AT TIME ZONE tz)::date,
           outage_rollup_end_day(o.started_at, o.ended_at, tz), x
      FROM new_rows w
      JOIN outages o ON o.device_id = w.device_id
       AND o.started_at < COALESCE(w.ended_at, 'infinity')
       AND (o.ended_at IS NULL OR o.ended_at > w.started_at)
    ON CONFLICT DO NOTHING;
  END IF;
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO outage_rollup_dirty (device_id, line, from_day, to_day, xid)
    SELECT DISTINCT o.device_id, o.line, (o.started_at AT TIME ZONE tz)::date,
           outage_rollup_end_day(o.started_at, o.ended_at, tz), x
      FROM old_rows w
      JOIN outages o ON o.device_id = w.device_id
       AND o.started_at < COALESCE(w.ended_at, 'infinity')
       AND (o.ended_at IS NULL OR o.ended_at > w.started_at)
    ON CONFLICT DO NOTHING;
  END IF;
  RETURN NULL;
END;
$$;
