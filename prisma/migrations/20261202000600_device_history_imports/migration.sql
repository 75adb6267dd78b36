-- History brought over from another platform (POST /api/devices/:id/telemetry, used by
-- `spms import thingsboard`), one row per device:
-- - first_report_at: the earliest report time accepted, so a device's lines count as in
--   service from its first known report rather than from its registration in SPMS (the
--   reports read least(created_at, first_report_at): one row per device, no scan of
--   line_events);
-- - source / from_at / through_at: how far an importer got (the span [from_at, through_at]
--   of `source` is durably queued), so an interrupted import resumes from SPMS's own state.
CREATE TABLE "device_history_imports" (
    "device_id" UUID NOT NULL,
    "first_report_at" TIMESTAMPTZ(3),
    "source" TEXT,
    "from_at" TIMESTAMPTZ(3),
    "through_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "device_history_imports_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_history_imports_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
