-- E-mail channel and scheduled reliability reports.
-- Recipients choose a channel (sms, email or both; existing recipients stay on sms) and may
-- have an e-mail address instead of (or as well as) a phone number. Notifications record the
-- channel they went out on; an e-mail has an address, a subject and the server's answer.

ALTER TABLE "alert_recipients" ADD COLUMN IF NOT EXISTS "email" TEXT;
ALTER TABLE "alert_recipients" ADD COLUMN IF NOT EXISTS "channel" TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE "alert_recipients" ALTER COLUMN "phone" DROP NOT NULL;
ALTER TABLE "alert_recipients" DROP CONSTRAINT IF EXISTS "alert_recipients_channel_check";
ALTER TABLE "alert_recipients" ADD CONSTRAINT "alert_recipients_channel_check" CHECK ("channel" IN ('sms', 'email', 'both'));
-- The address the channel needs is there.
ALTER TABLE "alert_recipients" DROP CONSTRAINT IF EXISTS "alert_recipients_address_check";
ALTER TABLE "alert_recipients" ADD CONSTRAINT "alert_recipients_address_check"
    CHECK (("channel" = 'email' OR "phone" IS NOT NULL) AND ("channel" = 'sms' OR "email" IS NOT NULL));

ALTER TABLE "notifications" ADD COLUMN IF NOT EXISTS "channel" TEXT NOT NULL DEFAULT 'sms';
ALTER TABLE "notifications" ADD COLUMN IF NOT EXISTS "email" TEXT;
ALTER TABLE "notifications" ADD COLUMN IF NOT EXISTS "subject" TEXT;
-- The provider's last answer (SMTP: "250 2.0.0 Ok: queued as …", or the refusal).
ALTER TABLE "notifications" ADD COLUMN IF NOT EXISTS "response" TEXT;
ALTER TABLE "notifications" ALTER COLUMN "phone" DROP NOT NULL;
ALTER TABLE "notifications" DROP CONSTRAINT IF EXISTS "notifications_channel_check";
ALTER TABLE "notifications" ADD CONSTRAINT "notifications_channel_check" CHECK ("channel" IN ('sms', 'email'));

-- Who gets a periodic reliability summary by e-mail, for which part of the fleet.
CREATE TABLE IF NOT EXISTS "report_subscriptions" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "recipient_id" UUID NOT NULL,
    "scope_kind" TEXT NOT NULL,
    "scope_value" TEXT,
    "monthly" BOOLEAN NOT NULL DEFAULT true,
    "weekly" BOOLEAN NOT NULL DEFAULT false,
    "worst_sites" INTEGER NOT NULL DEFAULT 10,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "report_subscriptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "report_subscriptions_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE CASCADE,
    CONSTRAINT "report_subscriptions_scope_kind_check" CHECK ("scope_kind" IN ('all', 'region', 'customer')),
    CONSTRAINT "report_subscriptions_scope_check" CHECK (("scope_kind" = 'all') = ("scope_value" IS NULL)),
    CONSTRAINT "report_subscriptions_period_check" CHECK ("monthly" OR "weekly"),
    CONSTRAINT "report_subscriptions_worst_check" CHECK ("worst_sites" BETWEEN 0 AND 100)
);
CREATE INDEX IF NOT EXISTS "report_subscriptions_recipient_idx" ON "report_subscriptions" ("recipient_id");

-- One row per subscription and period, written by whichever process claims the period
-- first: the primary key is what makes a report go out once however many schedulers run.
CREATE TABLE IF NOT EXISTS "report_deliveries" (
    "subscription_id" UUID NOT NULL,
    -- 'monthly:2026-11' or 'weekly:2026-11-23' (the week's Monday), local calendar
    "period" TEXT NOT NULL,
    "period_start" TIMESTAMPTZ(3) NOT NULL,
    "period_end" TIMESTAMPTZ(3) NOT NULL,
    "notification_id" BIGINT,
    "attachment_name" TEXT NOT NULL,
    "attachment" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "report_deliveries_pkey" PRIMARY KEY ("subscription_id", "period"),
    CONSTRAINT "report_deliveries_subscription_fkey" FOREIGN KEY ("subscription_id") REFERENCES "report_subscriptions"("id") ON DELETE CASCADE,
    CONSTRAINT "report_deliveries_notification_fkey" FOREIGN KEY ("notification_id") REFERENCES "notifications"("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "report_deliveries_notification_idx" ON "report_deliveries" ("notification_id");
