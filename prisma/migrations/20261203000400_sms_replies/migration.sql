-- Replies by SMS. Every inbound text (Twilio's inbound webhook, SMPP deliver_sm) is kept
-- with what came of it, whatever it said: the audit of who acknowledged what from a phone.
-- Notifications gain the short code ('ACK 123') a text carried, when replies are possible.
CREATE TABLE IF NOT EXISTS "sms_inbound_messages" (
    "id" BIGSERIAL NOT NULL,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "provider" TEXT NOT NULL,
    -- Twilio's MessageSid (a retried webhook is recorded once); NULL for SMPP.
    "provider_message_id" TEXT,
    "from_phone" TEXT NOT NULL,
    "to_addr" TEXT NOT NULL,
    "body" TEXT NOT NULL,
    "recipient_id" UUID,
    "outcome" TEXT NOT NULL,
    -- Alerts this message acknowledged.
    "alert_ids" BIGINT[] NOT NULL DEFAULT '{}',
    -- The answer sent back; NULL when none was (unknown number, per-number limit).
    "reply" TEXT,

    CONSTRAINT "sms_inbound_messages_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "sms_inbound_messages_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE SET NULL,
    CONSTRAINT "sms_inbound_messages_provider_check" CHECK ("provider" IN ('twilio', 'smpp')),
    CONSTRAINT "sms_inbound_messages_outcome_check" CHECK ("outcome" IN
        ('acknowledged', 'nothing_open', 'unknown_code', 'ambiguous', 'unknown_number', 'not_a_command'))
);
CREATE UNIQUE INDEX IF NOT EXISTS "sms_inbound_messages_provider_message_key"
    ON "sms_inbound_messages" ("provider", "provider_message_id");
CREATE INDEX IF NOT EXISTS "sms_inbound_messages_from_idx" ON "sms_inbound_messages" ("from_phone", "received_at" DESC);

ALTER TABLE "notifications" ADD COLUMN IF NOT EXISTS "reply_code" TEXT;
CREATE INDEX IF NOT EXISTS "notifications_reply_code_idx" ON "notifications" ("phone", "reply_code") WHERE "reply_code" IS NOT NULL;
