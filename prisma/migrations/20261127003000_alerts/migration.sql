-- Alerts and SMS notifications (apps/worker/src/alerts writes, apps/api reads).
-- Alerts follow ThingsBoard's alarm lifecycle: active/cleared x acknowledged/unacknowledged.

CREATE TABLE "alerts" (
    "id" BIGSERIAL NOT NULL,
    "type" TEXT NOT NULL CHECK ("type" IN ('outage', 'device_offline', 'voltage')),
    -- One real condition = one key (type/device/line/start message id), so concurrent workers
    -- and redelivered events find the same row (INSERT ... ON CONFLICT).
    "condition_key" TEXT NOT NULL,
    "severity" TEXT NOT NULL CHECK ("severity" IN ('critical', 'major', 'minor', 'warning')),
    "device_id" UUID NOT NULL,
    "line" SMALLINT,
    -- snapshot of the device's region / customer when raised (scoping and grouping)
    "region" TEXT,
    "customer" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL,
    "cleared_at" TIMESTAMPTZ(3),
    -- outage.removed: late data showed it never happened as stored
    "voided" BOOLEAN NOT NULL DEFAULT false,
    "start_event_id" TEXT NOT NULL,
    "clear_event_id" TEXT,
    "acknowledged_at" TIMESTAMPTZ(3),
    "acknowledged_by" TEXT,
    -- set once when people were told (debounce passed); a restoration is texted only if set
    "notified_at" TIMESTAMPTZ(3),
    "restoration_notified_at" TIMESTAMPTZ(3),
    -- held because the line was flapping when the debounce fired
    "held" BOOLEAN NOT NULL DEFAULT false,
    "details" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alerts_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "alerts_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);
CREATE UNIQUE INDEX "alerts_condition_key" ON "alerts" ("condition_key");
CREATE INDEX "alerts_active_idx" ON "alerts" ("started_at" DESC) WHERE "cleared_at" IS NULL;
CREATE INDEX "alerts_started_idx" ON "alerts" ("started_at" DESC);
CREATE INDEX "alerts_device_idx" ON "alerts" ("device_id", "started_at" DESC);

-- People who get texts, subscribed by scope and by kind.
CREATE TABLE "alert_recipients" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    -- E.164 (+94...)
    "phone" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "scope_kind" TEXT NOT NULL CHECK ("scope_kind" IN ('all', 'region', 'customer', 'device', 'line')),
    "scope_value" TEXT,
    "scope_line" SMALLINT CHECK ("scope_line" BETWEEN 1 AND 8),
    "kinds" TEXT[] NOT NULL,
    "quiet_start" TEXT,
    "quiet_end" TEXT,
    "time_zone" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alert_recipients_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "alert_recipients_scope_check" CHECK (("scope_kind" = 'all') = ("scope_value" IS NULL)),
    CONSTRAINT "alert_recipients_line_check" CHECK (("scope_kind" = 'line') = ("scope_line" IS NOT NULL)),
    CONSTRAINT "alert_recipients_quiet_check" CHECK (("quiet_start" IS NULL) = ("quiet_end" IS NULL))
);

-- Items waiting in a recipient's grouping window (durable: the window survives restarts).
-- A flush job takes them with DELETE ... RETURNING, so each item is in exactly one text.
CREATE TABLE "alert_pending" (
    "recipient_id" UUID NOT NULL,
    "group_key" TEXT NOT NULL,
    "alert_id" BIGINT NOT NULL,
    "kind" TEXT NOT NULL,
    "critical" BOOLEAN NOT NULL DEFAULT false,
    "details" JSONB NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alert_pending_pkey" PRIMARY KEY ("recipient_id", "alert_id", "kind"),
    CONSTRAINT "alert_pending_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE CASCADE,
    CONSTRAINT "alert_pending_alert_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE CASCADE
);
CREATE INDEX "alert_pending_group_idx" ON "alert_pending" ("recipient_id", "group_key");

-- Flapping state per line (hysteresis: entered and left by the worker).
CREATE TABLE "alert_line_flapping" (
    "device_id" UUID NOT NULL,
    "line" SMALLINT NOT NULL,
    "flapping" BOOLEAN NOT NULL DEFAULT false,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alert_line_flapping_pkey" PRIMARY KEY ("device_id", "line"),
    CONSTRAINT "alert_line_flapping_device_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE
);

-- Every text: what it covered, to whom, what it said, and what became of it.
CREATE TABLE "notifications" (
    "id" BIGSERIAL NOT NULL,
    "recipient_id" UUID,
    "phone" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    -- queued (ours, before the provider), then Twilio's statuses; 'suppressed' = not sent
    -- (quiet hours, cap) and 'failed' with error_code for permanent provider errors
    "status" TEXT NOT NULL DEFAULT 'pending',
    "reason" TEXT,
    "provider" TEXT,
    "provider_message_id" TEXT,
    "segments" INTEGER,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "error_code" INTEGER,
    "error_message" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notifications_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "notifications_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE SET NULL
);
CREATE UNIQUE INDEX "notifications_provider_message_key" ON "notifications" ("provider_message_id");
CREATE INDEX "notifications_created_idx" ON "notifications" ("created_at" DESC);
CREATE INDEX "notifications_recipient_idx" ON "notifications" ("recipient_id", "created_at" DESC);

CREATE TABLE "notification_alerts" (
    "notification_id" BIGINT NOT NULL,
    "alert_id" BIGINT NOT NULL,
    CONSTRAINT "notification_alerts_pkey" PRIMARY KEY ("notification_id", "alert_id"),
    CONSTRAINT "notification_alerts_notification_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE,
    CONSTRAINT "notification_alerts_alert_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE CASCADE
);
CREATE INDEX "notification_alerts_alert_idx" ON "notification_alerts" ("alert_id");

CREATE TABLE "notification_status_history" (
    "id" BIGSERIAL NOT NULL,
    "notification_id" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "error_code" INTEGER,
    -- 'worker' (our send attempt) or 'callback' (Twilio's receipt)
    "source" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "notification_status_history_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "notification_status_history_notification_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE CASCADE
);
CREATE INDEX "notification_status_history_idx" ON "notification_status_history" ("notification_id", "at");
