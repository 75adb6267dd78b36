-- Firmware over the air (ThingsBoard's OTA protocol) and staged rollouts.
--
-- firmware: one uploaded image per (title, version). The bytes live in a PostgreSQL large
-- object (data_oid), so every broker and API process on every machine serves the same image
-- in chunks without loading it whole; the checksum the uploader gave (algorithm + lowercase
-- hex) was verified on upload, and sha256 is always kept as well. Deleting a row must unlink
-- its large object in the same transaction (the application does it; there is no lo_manage).
--
-- Assignment: a device's target firmware is devices.firmware_id, else its profile's. The
-- target is pushed to the device as the shared attributes fw_title, fw_version, fw_size,
-- fw_checksum, fw_checksum_algorithm. A firmware that is assigned cannot be deleted.
--
-- device_firmware: what the device reported about its firmware (ThingsBoard's telemetry
-- keys current_fw_title, current_fw_version, fw_state, fw_error) and which target was last
-- pushed to it.
--
-- firmware_rollouts / firmware_rollout_devices: a rollout targets a scope, fixed at
-- creation as its device list, split into waves (cumulative percentages, every wave at
-- least one device). A device in a rollout moves pending → assigned (target pushed) →
-- downloading → updated (reported UPDATED with the rollout's version and came back online)
-- or failed (reported FAILED, or not updated and back within the rollout's success timeout,
-- by default three inactivity timeouts); skipped when it already runs the version;
-- cancelled with the rollout.

CREATE TABLE IF NOT EXISTS "firmware" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "title" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "size" BIGINT NOT NULL,
    "checksum_algorithm" TEXT NOT NULL,
    "checksum" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "content_type" TEXT,
    "description" TEXT,
    "data_oid" OID NOT NULL,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "firmware_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "firmware_checksum_algorithm_check"
        CHECK ("checksum_algorithm" IN ('SHA256', 'SHA384', 'SHA512', 'MD5', 'CRC32')),
    CONSTRAINT "firmware_size_check" CHECK ("size" >= 0)
);
CREATE UNIQUE INDEX IF NOT EXISTS "firmware_title_version_key" ON "firmware"("title", "version");

ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "firmware_id" UUID;
ALTER TABLE "device_profiles" DROP CONSTRAINT IF EXISTS "device_profiles_firmware_id_fkey";
ALTER TABLE "device_profiles" ADD CONSTRAINT "device_profiles_firmware_id_fkey"
    FOREIGN KEY ("firmware_id") REFERENCES "firmware"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
CREATE INDEX IF NOT EXISTS "device_profiles_firmware_id_idx" ON "device_profiles"("firmware_id");

ALTER TABLE "devices" ADD COLUMN IF NOT EXISTS "firmware_id" UUID;
ALTER TABLE "devices" DROP CONSTRAINT IF EXISTS "devices_firmware_id_fkey";
ALTER TABLE "devices" ADD CONSTRAINT "devices_firmware_id_fkey"
    FOREIGN KEY ("firmware_id") REFERENCES "firmware"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
CREATE INDEX IF NOT EXISTS "devices_firmware_id_idx" ON "devices"("firmware_id");

CREATE TABLE IF NOT EXISTS "device_firmware" (
    "device_id" UUID NOT NULL,
    "current_title" TEXT,
    "current_version" TEXT,
    "state" TEXT,
    "error" TEXT,
    "state_at" TIMESTAMPTZ(3),
    "pushed_firmware_id" UUID,
    "pushed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "device_firmware_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_firmware_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "device_firmware_pushed_firmware_id_fkey" FOREIGN KEY ("pushed_firmware_id") REFERENCES "firmware"("id") ON DELETE SET NULL ON UPDATE CASCADE,
    CONSTRAINT "device_firmware_state_check" CHECK ("state" IS NULL OR "state" IN
        ('QUEUED', 'INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING', 'UPDATED', 'FAILED'))
);

CREATE TABLE IF NOT EXISTS "firmware_rollouts" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "firmware_id" UUID NOT NULL,
    "scope" JSONB NOT NULL,
    "waves" INTEGER[] NOT NULL,
    "max_concurrent" INTEGER NOT NULL,
    "failure_threshold" DOUBLE PRECISION NOT NULL,
    "success_timeout_sec" INTEGER,
    "status" TEXT NOT NULL DEFAULT 'running',
    "status_reason" TEXT,
    "current_wave" INTEGER NOT NULL DEFAULT 0,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "firmware_rollouts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "firmware_rollouts_firmware_id_fkey" FOREIGN KEY ("firmware_id") REFERENCES "firmware"("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "firmware_rollouts_status_check" CHECK ("status" IN ('running', 'paused', 'completed', 'cancelled')),
    CONSTRAINT "firmware_rollouts_max_concurrent_check" CHECK ("max_concurrent" >= 1),
    CONSTRAINT "firmware_rollouts_failure_threshold_check" CHECK ("failure_threshold" >= 0 AND "failure_threshold" <= 1)
);
CREATE INDEX IF NOT EXISTS "firmware_rollouts_status_idx" ON "firmware_rollouts"("status");

CREATE TABLE IF NOT EXISTS "firmware_rollout_devices" (
    "rollout_id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "wave" INTEGER NOT NULL,
    "state" TEXT NOT NULL DEFAULT 'pending',
    "assigned_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "error" TEXT,

    CONSTRAINT "firmware_rollout_devices_pkey" PRIMARY KEY ("rollout_id", "device_id"),
    CONSTRAINT "firmware_rollout_devices_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "firmware_rollouts"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "firmware_rollout_devices_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "firmware_rollout_devices_state_check" CHECK ("state" IN
        ('pending', 'assigned', 'downloading', 'updated', 'failed', 'skipped', 'cancelled'))
);
CREATE INDEX IF NOT EXISTS "firmware_rollout_devices_wave_idx" ON "firmware_rollout_devices"("rollout_id", "wave", "state");
CREATE INDEX IF NOT EXISTS "firmware_rollout_devices_device_idx" ON "firmware_rollout_devices"("device_id");
