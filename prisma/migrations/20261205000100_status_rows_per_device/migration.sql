-- status_rows_refresh (the fleet view's snapshot, migration 20261203000200) reads each
-- device's lines through its primary keys instead of one grouped join of the batch's lines.
--
-- The grouped join was planned inside a SQL function, where the ids are a parameter of
-- unknown length: the planner expected thousands of device_lines rows and hashed ALL of
-- line_state for them. Every ingest batch (the worker calls this once a transaction) then
-- read the fleet's 80,000 line_state rows at 10,000 devices: ~8 ms a call for one device,
-- ~12 ms for 150, twice that at 20,000 devices, and a grid-restore storm runs hundreds of
-- such batches. Per device (LATERAL): its device_lines rows, and line_state and open
-- outages by primary key / index for each, whatever the size of the fleet.
--
-- Same rows as before: a device without lines aggregates to NULL labels, masks and since (0
-- masks after COALESCE), as the LEFT JOIN to no group gave. Still without JIT (20261204000100).
CREATE OR REPLACE FUNCTION status_rows_refresh(ids UUID[]) RETURNS void
LANGUAGE sql SET jit = off AS $$
INSERT INTO device_status_rows AS r (device_id, active, connection, last_activity_at, inactive_since, volts, volts_at,
  volts_level, line_labels, lines_disabled, lines_reported, lines_powered, lines_outage, line_since, updated_at)
SELECT d.id, COALESCE(s.active, false), COALESCE(s.connection, 'disconnected'), s.last_activity_at, s.inactive_since,
       s.volts, s.volts_at, s.volts_level, l.labels, COALESCE(l.disabled, 0), COALESCE(l.reported, 0),
       COALESCE(l.powered, 0), COALESCE(l.outages, 0), l.since, now()
  FROM (SELECT DISTINCT unnest(ids) AS id) q
  JOIN devices d ON d.id = q.id
  LEFT JOIN device_state s ON s.device_id = d.id
  CROSS JOIN LATERAL (
    SELECT string_agg(dl.number || ':' || dl.label, E'\x1f' ORDER BY dl.number) AS labels,
           bit_or(CASE WHEN NOT dl.enabled THEN 1 << (dl.number - 1) ELSE 0 END) AS disabled,
           bit_or(CASE WHEN ls.powered IS NOT NULL THEN 1 << (dl.number - 1) ELSE 0 END) AS reported,
           bit_or(CASE WHEN ls.powered THEN 1 << (dl.number - 1) ELSE 0 END) AS powered,
           bit_or(CASE WHEN EXISTS (SELECT 1 FROM outages o
                                     WHERE o.device_id = dl.device_id AND o.line = dl.number AND o.ended_at IS NULL)
                       THEN 1 << (dl.number - 1) ELSE 0 END) AS outages,
           array_agg(round(date_part('epoch', ls.since) * 1000) ORDER BY dl.number) AS since
      FROM device_lines dl
      LEFT JOIN LATERAL (
        SELECT x.powered, x.since FROM line_state x WHERE x.device_id = dl.device_id AND x.line = dl.number LIMIT 1
      ) ls ON true
     WHERE dl.device_id = d.id) l
ON CONFLICT (device_id) DO UPDATE SET
  active = EXCLUDED.active, connection = EXCLUDED.connection, last_activity_at = EXCLUDED.last_activity_at,
  inactive_since = EXCLUDED.inactive_since, volts = EXCLUDED.volts, volts_at = EXCLUDED.volts_at,
  volts_level = EXCLUDED.volts_level, lines_reported = EXCLUDED.lines_reported,
  lines_powered = EXCLUDED.lines_powered, lines_outage = EXCLUDED.lines_outage, line_since = EXCLUDED.line_since,
  updated_at = EXCLUDED.updated_at
$$;
