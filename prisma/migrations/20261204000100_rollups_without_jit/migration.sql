-- The functions that keep the report rollups and the fleet-view snapshot run without
-- PostgreSQL's JIT compiler.
--
-- Their statements are cached by PL/pgSQL as generic plans, whose cost estimates (a
-- generate_series of unknown length, per-row subqueries) exceed `jit_above_cost`: with JIT on
-- (PostgreSQL's default wherever it was built with LLVM, as Debian's packages and the
-- TimescaleDB images are) every execution of such a plan compiled ~90 functions before
-- running: one device-line's day rows cost ~45 ms of compilation for ~1 ms of work. PL/pgSQL
-- uses the generic plan after five executions when it looks no worse, as in the rebuild's
-- loop over every line: a full rebuild (10,000 devices × 8 lines, a year) ran for over 24
-- minutes instead of ~40 s (docs/reports-rollups.md, "Without JIT"). Any of these functions
-- may end up on a generic plan, so none of them is left to the server's setting.
--
-- Set per function, so it holds whatever the connection (a pooler, psql, the migration
-- itself) and leaves the rest of the database's settings alone. The small SQL helpers
-- (outage_rollup_end_day, outage_rollup_zone) are left as they are: a SET clause would stop
-- the planner from inlining them.
ALTER FUNCTION outage_rollups_refresh(uuid[], int2[], date[], date[]) SET jit = off;
ALTER FUNCTION outage_rollups_rebuild(text) SET jit = off;
ALTER FUNCTION outage_rollups_refresh_dirty(int) SET jit = off;
ALTER FUNCTION outage_rollups_refresh_windows(uuid[], text[], timestamptz[], timestamptz[]) SET jit = off;
ALTER FUNCTION outage_rollups_on_outages() SET jit = off;
ALTER FUNCTION outage_rollups_on_offline() SET jit = off;
ALTER FUNCTION outage_rollups_on_planned() SET jit = off;
ALTER FUNCTION outage_rollups_on_device_region() SET jit = off;
ALTER FUNCTION outage_group_rollups_refresh_days(date[]) SET jit = off;
ALTER FUNCTION outage_group_rollups_refresh_dirty() SET jit = off;
ALTER FUNCTION outage_group_rollups_mark_devices(uuid[]) SET jit = off;
ALTER FUNCTION outage_group_rollups_on_days() SET jit = off;
ALTER FUNCTION outage_group_rollups_on_devices() SET jit = off;
ALTER FUNCTION outage_group_rollups_on_device_rows() SET jit = off;
ALTER FUNCTION device_line_masks_refresh(uuid[]) SET jit = off;
ALTER FUNCTION status_rows_refresh(uuid[]) SET jit = off;
ALTER FUNCTION status_rows_lines_changed() SET jit = off;
