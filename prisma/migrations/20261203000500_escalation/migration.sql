-- Escalation policies and recipient groups (apps/api writes them, apps/worker/src/alerts
-- runs them). A policy matches an alert by scope and severity; its tiers are told one after
-- another while the alert stays open and unacknowledged. Every step is recorded on the alert.

-- On-call rosters: plain membership (every enabled member of a group in a tier is told).
CREATE TABLE IF NOT EXISTS "recipient_groups" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "description" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "recipient_groups_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX IF NOT EXISTS "recipient_groups_name_key" ON "recipient_groups" ("name");

CREATE TABLE IF NOT EXISTS "recipient_group_members" (
    "group_id" UUID NOT NULL,
    "recipient_id" UUID NOT NULL,
    CONSTRAINT "recipient_group_members_pkey" PRIMARY KEY ("group_id", "recipient_id"),
    CONSTRAINT "recipient_group_members_group_fkey" FOREIGN KEY ("group_id") REFERENCES "recipient_groups"("id") ON DELETE CASCADE,
    CONSTRAINT "recipient_group_members_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS "recipient_group_members_recipient_idx" ON "recipient_group_members" ("recipient_id");

CREATE TABLE IF NOT EXISTS "escalation_policies" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "name" TEXT NOT NULL,
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    -- which alerts: the most specific enabled match wins (device > customer > region > all)
    "scope_kind" TEXT NOT NULL CHECK ("scope_kind" IN ('all', 'region', 'customer', 'device')),
    "scope_value" TEXT,
    -- empty = every severity
    "severities" TEXT[] NOT NULL DEFAULT '{}',
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "escalation_policies_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "escalation_policies_scope_check" CHECK (("scope_kind" = 'all') = ("scope_value" IS NULL))
);
CREATE UNIQUE INDEX IF NOT EXISTS "escalation_policies_name_key" ON "escalation_policies" ("name");

-- Tier n is told delay_sec after tier n-1 (tier 1: after the alert itself was told).
CREATE TABLE IF NOT EXISTS "escalation_tiers" (
    "policy_id" UUID NOT NULL,
    "tier" SMALLINT NOT NULL CHECK ("tier" BETWEEN 1 AND 10),
    "delay_sec" INTEGER NOT NULL CHECK ("delay_sec" BETWEEN 0 AND 604800),
    CONSTRAINT "escalation_tiers_pkey" PRIMARY KEY ("policy_id", "tier"),
    CONSTRAINT "escalation_tiers_policy_fkey" FOREIGN KEY ("policy_id") REFERENCES "escalation_policies"("id") ON DELETE CASCADE
);

-- A tier's targets: recipients and/or groups (exactly one of the two per row).
CREATE TABLE IF NOT EXISTS "escalation_tier_targets" (
    "id" BIGSERIAL NOT NULL,
    "policy_id" UUID NOT NULL,
    "tier" SMALLINT NOT NULL,
    "recipient_id" UUID,
    "group_id" UUID,
    CONSTRAINT "escalation_tier_targets_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "escalation_tier_targets_one_check" CHECK (("recipient_id" IS NULL) <> ("group_id" IS NULL)),
    CONSTRAINT "escalation_tier_targets_tier_fkey" FOREIGN KEY ("policy_id", "tier") REFERENCES "escalation_tiers"("policy_id", "tier") ON DELETE CASCADE,
    CONSTRAINT "escalation_tier_targets_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE CASCADE,
    -- a group still named by a tier cannot be deleted (the API says which policy holds it)
    CONSTRAINT "escalation_tier_targets_group_fkey" FOREIGN KEY ("group_id") REFERENCES "recipient_groups"("id") ON DELETE RESTRICT
);
CREATE INDEX IF NOT EXISTS "escalation_tier_targets_tier_idx" ON "escalation_tier_targets" ("policy_id", "tier");
CREATE INDEX IF NOT EXISTS "escalation_tier_targets_group_idx" ON "escalation_tier_targets" ("group_id");
CREATE INDEX IF NOT EXISTS "escalation_tier_targets_recipient_idx" ON "escalation_tier_targets" ("recipient_id");

-- Where an alert's escalation stands. `next_tier` only moves forward, by a guarded UPDATE in
-- the transaction that tells that tier: a redelivered timer finds it moved and does nothing.
CREATE TABLE IF NOT EXISTS "alert_escalation_state" (
    "alert_id" BIGINT NOT NULL,
    "policy_id" UUID,
    "policy_name" TEXT NOT NULL,
    "next_tier" SMALLINT NOT NULL,
    "next_at" TIMESTAMPTZ(3),
    -- null while running; acknowledged / cleared / voided / exhausted / policy_removed
    "stopped_reason" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alert_escalation_state_pkey" PRIMARY KEY ("alert_id"),
    CONSTRAINT "alert_escalation_state_alert_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE CASCADE,
    CONSTRAINT "alert_escalation_state_policy_fkey" FOREIGN KEY ("policy_id") REFERENCES "escalation_policies"("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "alert_escalation_state_due_idx" ON "alert_escalation_state" ("next_at") WHERE "stopped_reason" IS NULL;

-- Every step: who was told at which tier and when, or why a tier was not told.
CREATE TABLE IF NOT EXISTS "alert_escalations" (
    "id" BIGSERIAL NOT NULL,
    "alert_id" BIGINT NOT NULL,
    "tier" SMALLINT NOT NULL,
    -- null for a step about the whole tier (stopped, no one to tell)
    "recipient_id" UUID,
    "recipient_name" TEXT,
    "outcome" TEXT NOT NULL CHECK ("outcome" IN ('notified', 'quiet_hours', 'disabled', 'acknowledged', 'cleared', 'voided', 'no_targets', 'policy_removed')),
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "alert_escalations_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "alert_escalations_alert_fkey" FOREIGN KEY ("alert_id") REFERENCES "alerts"("id") ON DELETE CASCADE,
    CONSTRAINT "alert_escalations_recipient_fkey" FOREIGN KEY ("recipient_id") REFERENCES "alert_recipients"("id") ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS "alert_escalations_alert_idx" ON "alert_escalations" ("alert_id", "id");
