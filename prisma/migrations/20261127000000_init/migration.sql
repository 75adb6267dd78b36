-- SPMS initial schema: registry (mirrors prisma/schema.prisma) and time-series tables.
-- Time-series tables are plain PostgreSQL here; when TimescaleDB is present,
-- `npm run db:migrate` turns them into hypertables afterwards (packages/db/src/timescale.ts).

-- CreateEnum
CREATE TYPE "Transport" AS ENUM ('MQTT', 'HTTP');

-- CreateEnum
CREATE TYPE "CredentialsType" AS ENUM ('ACCESS_TOKEN', 'MQTT_BASIC');

-- CreateEnum
CREATE TYPE "HardwareStatus" AS ENUM ('OK', 'DEGRADED', 'FAULTY', 'RETIRED');

-- CreateTable
CREATE TABLE "device_profiles" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "transport" "Transport" NOT NULL DEFAULT 'MQTT',
    "inactivity_timeout_sec" INTEGER NOT NULL DEFAULT 120,
    "momentary_threshold_sec" INTEGER NOT NULL DEFAULT 300,
    "voltage_nominal" DOUBLE PRECISION NOT NULL DEFAULT 230,
    "voltage_min" DOUBLE PRECISION NOT NULL DEFAULT 216.2,
    "voltage_max" DOUBLE PRECISION NOT NULL DEFAULT 243.8,
    "voltage_hysteresis" DOUBLE PRECISION NOT NULL DEFAULT 2,
    "alert_debounce_sec" INTEGER NOT NULL DEFAULT 60,
    "is_default" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "device_profiles_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "devices" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "label" TEXT,
    "region" TEXT,
    "customer" TEXT,
    "latitude" DOUBLE PRECISION,
    "longitude" DOUBLE PRECISION,
    "notes" TEXT,
    "hardware_status" "HardwareStatus" NOT NULL DEFAULT 'OK',
    "profile_id" UUID NOT NULL,
    "inactivity_timeout_sec" INTEGER,
    "momentary_threshold_sec" INTEGER,
    "voltage_min" DOUBLE PRECISION,
    "voltage_max" DOUBLE PRECISION,
    "alert_debounce_sec" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "devices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "device_lines" (
    "device_id" UUID NOT NULL,
    "number" SMALLINT NOT NULL,
    "label" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,

    CONSTRAINT "device_lines_pkey" PRIMARY KEY ("device_id","number")
);

-- CreateTable
CREATE TABLE "device_credentials" (
    "device_id" UUID NOT NULL,
    "type" "CredentialsType" NOT NULL,
    "credentials_id" TEXT NOT NULL,
    "client_id" TEXT,
    "username" TEXT,
    "password_hash" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "device_credentials_pkey" PRIMARY KEY ("device_id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'admin',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "device_profiles_name_key" ON "device_profiles"("name");

-- CreateIndex
CREATE UNIQUE INDEX "devices_name_key" ON "devices"("name");

-- CreateIndex
CREATE INDEX "devices_region_idx" ON "devices"("region");

-- CreateIndex
CREATE INDEX "devices_customer_idx" ON "devices"("customer");

-- CreateIndex
CREATE UNIQUE INDEX "device_credentials_credentials_id_key" ON "device_credentials"("credentials_id");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_profile_id_fkey" FOREIGN KEY ("profile_id") REFERENCES "device_profiles"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "device_lines" ADD CONSTRAINT "device_lines_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "device_credentials" ADD CONSTRAINT "device_credentials_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Domain checks Prisma cannot express.
ALTER TABLE "device_lines" ADD CONSTRAINT "device_lines_number_check" CHECK ("number" BETWEEN 1 AND 8);
ALTER TABLE "devices" ADD CONSTRAINT "devices_latitude_check" CHECK ("latitude" BETWEEN -90 AND 90);
ALTER TABLE "devices" ADD CONSTRAINT "devices_longitude_check" CHECK ("longitude" BETWEEN -180 AND 180);

-- Seed profiles matching the deployed fleet (FIELD.md): MQTT devices report every 30 s,
-- HTTP devices every 15 min, so their inactivity timeouts differ.
INSERT INTO "device_profiles" ("id", "name", "description", "transport", "inactivity_timeout_sec", "is_default", "updated_at") VALUES
  ('00000000-0000-4000-8000-000000000001', 'SPMS', 'SPMS MQTT firmware (line changes + voltage every 30 s)', 'MQTT', 120, true, CURRENT_TIMESTAMP),
  ('00000000-0000-4000-8000-000000000002', 'SPMS-HTTP', 'SPMS HTTP firmware (snapshots every 15 min and on change)', 'HTTP', 1200, false, CURRENT_TIMESTAMP);
CREATE UNIQUE INDEX "device_profiles_one_default" ON "device_profiles"("is_default") WHERE "is_default";

-- ---------------------------------------------------------------------------
-- Time-series tables (written and read through pg, not Prisma).
-- Every primary key includes "ts" so the tables can become TimescaleDB hypertables.
-- "msg_id" is the gateway's id of the message the row came from: re-processing a
-- message (a redelivered job) hits the same key and is ignored.

-- Line state reports: one row per line per accepted message.
CREATE TABLE "line_events" (
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL CHECK ("line" BETWEEN 1 AND 8),
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "powered" BOOLEAN NOT NULL,
    -- how it arrived: 'mqtt', 'http'; '+ts' suffix when the device supplied the timestamp
    "source" TEXT NOT NULL,
    "msg_id" TEXT NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "line_events_pkey" PRIMARY KEY ("device_id", "line", "ts", "msg_id")
);

-- Mains voltage samples.
CREATE TABLE "voltage_samples" (
    "device_id" UUID NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "volts" REAL NOT NULL,
    "msg_id" TEXT NOT NULL,
    CONSTRAINT "voltage_samples_pkey" PRIMARY KEY ("device_id", "ts", "msg_id")
);

-- Every accepted telemetry entry as the device sent it (after lenient parsing), so keys
-- we do not interpret are kept, as ThingsBoard keeps arbitrary telemetry.
CREATE TABLE "telemetry_raw" (
    "device_id" UUID NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "msg_id" TEXT NOT NULL,
    "entry" SMALLINT NOT NULL DEFAULT 0,
    "values" JSONB NOT NULL,
    CONSTRAINT "telemetry_raw_pkey" PRIMARY KEY ("device_id", "ts", "msg_id", "entry")
);

-- Session events from the gateway: connect, disconnect, connection_lost, keepalive_timeout.
CREATE TABLE "device_connectivity" (
    "device_id" UUID NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "event" TEXT NOT NULL,
    "msg_id" TEXT NOT NULL,
    "detail" JSONB,
    CONSTRAINT "device_connectivity_pkey" PRIMARY KEY ("device_id", "ts", "msg_id")
);
CREATE INDEX "line_events_ts_idx" ON "line_events" ("ts" DESC);
CREATE INDEX "voltage_samples_ts_idx" ON "voltage_samples" ("ts" DESC);
CREATE INDEX "telemetry_raw_ts_idx" ON "telemetry_raw" ("ts" DESC);
CREATE INDEX "device_connectivity_ts_idx" ON "device_connectivity" ("ts" DESC);
