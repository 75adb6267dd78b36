-- Outage engine: state and intervals maintained by apps/worker (written through pg).
-- Every derived row carries the message id(s) it came from, so re-processing a message
-- (a redelivered job) finds the same key and changes nothing.

-- Per-device live state (one row per device that ever reported).
CREATE TABLE "device_state" (
    "device_id" UUID NOT NULL,
    -- ThingsBoard's "active": now < last_activity_at + inactivity timeout.
    "active" BOOLEAN NOT NULL DEFAULT false,
    -- Transport session as the gateway saw it; 'lost' = socket dropped without DISCONNECT
    -- (connection_lost / keepalive_timeout), shown before the device times out.
    "connection" TEXT NOT NULL DEFAULT 'disconnected' CHECK ("connection" IN ('connected', 'disconnected', 'lost')),
    "last_activity_at" TIMESTAMPTZ(3),
    "last_connect_at" TIMESTAMPTZ(3),
    "last_disconnect_at" TIMESTAMPTZ(3),
    "connection_changed_at" TIMESTAMPTZ(3),
    "inactive_since" TIMESTAMPTZ(3),
    -- Newest voltage sample (by timestamp, not by arrival).
    "volts" REAL,
    "volts_at" TIMESTAMPTZ(3),
    "volts_msg_id" TEXT,
    -- level after the newest sample ('normal', 'under', 'over', 'absent'): the hysteresis state
    "volts_level" TEXT,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "device_state_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_state_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);

-- Per-line live state: the report with the newest (ts, msg_id) wins, never the last received.
CREATE TABLE "line_state" (
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL CHECK ("line" BETWEEN 1 AND 8),
    "powered" BOOLEAN NOT NULL,
    -- first report of the current run of equal states ("unpowered since")
    "since" TIMESTAMPTZ(3) NOT NULL,
    "last_ts" TIMESTAMPTZ(3) NOT NULL,
    "last_msg_id" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "line_state_pkey" PRIMARY KEY ("device_id", "line"),
    CONSTRAINT "line_state_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);

-- Outage intervals per line (see packages/outage-engine for the semantics).
CREATE TABLE "outages" (
    "id" BIGSERIAL NOT NULL,
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL CHECK ("line" BETWEEN 1 AND 8),
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    -- set when the outage began while the device was offline: it began in [from, to]
    "start_window_from" TIMESTAMPTZ(3),
    "start_window_to" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "end_window_from" TIMESTAMPTZ(3),
    "end_window_to" TIMESTAMPTZ(3),
    -- offline time inside the interval, excluded from the duration
    "unknown_ms" BIGINT NOT NULL DEFAULT 0,
    "duration_ms" BIGINT,
    "class" TEXT NOT NULL DEFAULT 'pending' CHECK ("class" IN ('pending', 'momentary', 'sustained')),
    "whole_site" BOOLEAN NOT NULL DEFAULT false,
    "utility_feed" BOOLEAN NOT NULL DEFAULT false,
    "planned" BOOLEAN NOT NULL DEFAULT false,
    "start_msg_id" TEXT NOT NULL,
    "end_msg_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "outages_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "outages_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX "outages_device_line_start_msg_key" ON "outages" ("device_id", "line", "start_msg_id");
-- open outages (at most one per line; not a unique index, because a recomputation may
-- close one and reopen another in a single multi-row UPDATE)
CREATE INDEX "outages_open_idx" ON "outages" ("device_id", "line") WHERE "ended_at" IS NULL;
CREATE INDEX "outages_started_at_idx" ON "outages" ("started_at" DESC);
CREATE INDEX "outages_device_started_idx" ON "outages" ("device_id", "started_at" DESC);

-- Periods a device was offline (no activity for longer than its inactivity timeout), from
-- its last activity to its next one; ended_at NULL = still offline. Unknown time for the
-- engine: neither outage nor supply.
CREATE TABLE "device_offline_periods" (
    "device_id" UUID NOT NULL,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "ended_at" TIMESTAMPTZ(3),
    "detected_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "device_offline_periods_pkey" PRIMARY KEY ("device_id", "started_at"),
    CONSTRAINT "device_offline_periods_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX "device_offline_periods_open_key" ON "device_offline_periods" ("device_id") WHERE "ended_at" IS NULL;

-- Under-/over-voltage episodes (steady state; the devices sample every 30 s).
CREATE TABLE "voltage_episodes" (
    "id" BIGSERIAL NOT NULL,
    "device_id" UUID NOT NULL,
    "kind" TEXT NOT NULL CHECK ("kind" IN ('under', 'over')),
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "start_window_from" TIMESTAMPTZ(3),
    "start_window_to" TIMESTAMPTZ(3),
    "ended_at" TIMESTAMPTZ(3),
    "end_window_from" TIMESTAMPTZ(3),
    "end_window_to" TIMESTAMPTZ(3),
    "unknown_ms" BIGINT NOT NULL DEFAULT 0,
    "duration_ms" BIGINT,
    "start_msg_id" TEXT NOT NULL,
    "end_msg_id" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "voltage_episodes_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "voltage_episodes_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX "voltage_episodes_device_start_msg_key" ON "voltage_episodes" ("device_id", "start_msg_id");
CREATE INDEX "voltage_episodes_device_started_idx" ON "voltage_episodes" ("device_id", "started_at" DESC);

-- Readings refused by validation (e.g. voltage outside the physical range), kept for
-- operators and counted per device; idempotent by message id.
CREATE TABLE "rejected_readings" (
    "device_id" UUID NOT NULL,
    "ts" TIMESTAMPTZ(3) NOT NULL,
    "msg_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "value" JSONB,
    "reason" TEXT NOT NULL,
    CONSTRAINT "rejected_readings_pkey" PRIMARY KEY ("device_id", "msg_id", "key")
);
CREATE INDEX "rejected_readings_ts_idx" ON "rejected_readings" ("ts" DESC);

-- Domain events (outbox): written in the same transaction as the change they describe;
-- the id is deterministic, so re-processing cannot create a second one. published_at is
-- set once the event is on the `domain-events` queue (BullMQ jobId = id) and pub/sub.
CREATE TABLE "domain_events" (
    "id" TEXT NOT NULL,
    "type" TEXT NOT NULL,
    "device_id" UUID,
    "occurred_at" TIMESTAMPTZ(3) NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "published_at" TIMESTAMPTZ(3),
    CONSTRAINT "domain_events_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "domain_events_created_idx" ON "domain_events" ("created_at" DESC);
CREATE INDEX "domain_events_unpublished_idx" ON "domain_events" ("created_at") WHERE "published_at" IS NULL;

-- Jobs the worker refused for good (schema-invalid payloads): visible to operators, never
-- retried automatically.
CREATE TABLE "dead_letters" (
    "id" BIGSERIAL NOT NULL,
    "queue" TEXT NOT NULL,
    "job_id" TEXT NOT NULL,
    "job_name" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "payload" JSONB,
    "failed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "dead_letters_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "dead_letters_queue_job_key" ON "dead_letters" ("queue", "job_id");
