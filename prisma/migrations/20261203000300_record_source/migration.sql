-- Where an outage or voltage episode came from: 'live' (reports received by SPMS's
-- gateways) or 'import' (history posted through POST /api/devices/:id/telemetry, e.g. by
-- `spms import thingsboard`). The worker sets it from the message that started the record
-- (imported messages carry ids beginning with 'hist-'), and the alerts raise nothing for
-- imported records: the people on call were never told of them as they happened.
-- Existing rows were all created by live data except those started by an earlier import.
ALTER TABLE "outages" ADD COLUMN IF NOT EXISTS "source" TEXT NOT NULL DEFAULT 'live';
ALTER TABLE "voltage_episodes" ADD COLUMN IF NOT EXISTS "source" TEXT NOT NULL DEFAULT 'live';

UPDATE "outages" SET "source" = 'import' WHERE "start_msg_id" LIKE 'hist-%' AND "source" <> 'import';
UPDATE "voltage_episodes" SET "source" = 'import' WHERE "start_msg_id" LIKE 'hist-%' AND "source" <> 'import';
