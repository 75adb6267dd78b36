-- Dead letters per message: the worker records an invalid message alone (with its device
-- and raw form) and processes the rest of its job; a whole-job problem (unknown contract
-- version) stays one row with message_id ''. Operators replay or discard them.
ALTER TABLE "dead_letters"
    ADD COLUMN "message_id" TEXT NOT NULL DEFAULT '',
    ADD COLUMN "device_id" UUID,
    ADD COLUMN "received_at" TIMESTAMPTZ(3),
    ADD COLUMN "status" TEXT NOT NULL DEFAULT 'open',
    ADD COLUMN "replayed_at" TIMESTAMPTZ(3),
    ADD COLUMN "resolved_by" TEXT,
    ADD CONSTRAINT "dead_letters_status_check" CHECK ("status" IN ('open', 'replayed', 'discarded'));

DROP INDEX "dead_letters_queue_job_key";
CREATE UNIQUE INDEX "dead_letters_queue_job_message_key" ON "dead_letters" ("queue", "job_id", "message_id");
CREATE INDEX "dead_letters_message_idx" ON "dead_letters" ("queue", "message_id");
CREATE INDEX "dead_letters_device_idx" ON "dead_letters" ("device_id", "id" DESC);
CREATE INDEX "dead_letters_status_idx" ON "dead_letters" ("status", "id" DESC);
