-- Access control: users, sessions, user-owned scoped API keys, the audit log and planned
-- interruptions (apps/api). Scope lists: NULL = no restriction on that dimension.

CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "username" TEXT NOT NULL,
    "email" TEXT,
    "display_name" TEXT,
    -- "scrypt$<logN>$<r>$<p>$<salt b64>$<hash b64>" (apps/api/src/services/passwords.ts)
    "password_hash" TEXT,
    "role" TEXT NOT NULL CHECK ("role" IN ('admin', 'operator', 'viewer')),
    "regions" TEXT[],
    "customers" TEXT[],
    "disabled_at" TIMESTAMPTZ(3),
    "password_changed_at" TIMESTAMPTZ(3),
    "last_login_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "users_username_key" ON "users"("username");
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- Sign-in sessions: the bearer token is random and stored only as its sha256.
CREATE TABLE "sessions" (
    "id" UUID NOT NULL,
    "user_id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "ip" TEXT,
    "user_agent" TEXT,
    CONSTRAINT "sessions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions"("token_hash");
CREATE INDEX "sessions_user_id_idx" ON "sessions"("user_id");

-- API keys may belong to a user (role and scope are then at most the user's) and carry
-- their own scope.
ALTER TABLE "api_keys" ADD COLUMN "user_id" UUID;
ALTER TABLE "api_keys" ADD COLUMN "regions" TEXT[];
ALTER TABLE "api_keys" ADD COLUMN "customers" TEXT[];
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX "api_keys_user_id_idx" ON "api_keys"("user_id");

-- Every change made through the operator API. No foreign keys: entries outlive what they
-- describe. Secrets and hashes are removed before writing.
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "principal_kind" TEXT NOT NULL,
    "principal_id" TEXT NOT NULL,
    "user_id" UUID,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT,
    "before" JSONB,
    "after" JSONB,
    "request_id" TEXT,
    "ip" TEXT,
    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at");
CREATE INDEX "audit_log_entity_idx" ON "audit_log"("entity_type", "entity_id");
CREATE INDEX "audit_log_user_id_idx" ON "audit_log"("user_id");

-- Planned interruptions (scheduled power cuts) for a region or one device. Outages that
-- start inside a window are marked planned when read (the reporting queries join here).
CREATE TABLE "planned_interruptions" (
    "id" UUID NOT NULL,
    "region" TEXT,
    "device_id" UUID,
    "starts_at" TIMESTAMPTZ(3) NOT NULL,
    "ends_at" TIMESTAMPTZ(3) NOT NULL,
    "reason" TEXT NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "planned_interruptions_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "planned_interruptions_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "planned_interruptions_target_check" CHECK (("region" IS NULL) <> ("device_id" IS NULL)),
    CONSTRAINT "planned_interruptions_window_check" CHECK ("ends_at" > "starts_at")
);
CREATE INDEX "planned_interruptions_region_idx" ON "planned_interruptions"("region", "starts_at");
CREATE INDEX "planned_interruptions_device_id_idx" ON "planned_interruptions"("device_id", "starts_at");
