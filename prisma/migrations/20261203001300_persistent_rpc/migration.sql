-- Persistent server-side RPC (ThingsBoard's "persistent" RPC): stored here, delivered when the
-- device next connects (any broker process) or polls (HTTP), with ThingsBoard's states.
--
-- This table is the truth; Redis only carries copies (the device's command list and a
-- "has pending RPC" marker), both rebuilt from here. A row moves
--   QUEUED → SENT (published to the device; attempts + 1) → DELIVERED (PUBACK, or the HTTP
--   long-poll answered) → SUCCESSFUL (the device answered; final),
-- or ends as EXPIRED (expiration_time passed before it finished), TIMEOUT (reached the device
-- but no answer within timeout_ms on the last attempt), FAILED (never acknowledged by the
-- device on the last attempt, or the device answered with an error), CANCELLED (an operator
-- deleted it while queued). An attempt that times out with retries left goes back to QUEUED.
-- A oneway RPC ends at DELIVERED.
--
-- request_id is the number the device sees in v1/devices/me/rpc/request/<id>, drawn from
-- device_rpc_request_seq: a range of its own above the ids of non-persistent RPCs (Redis
-- INCR from 1), so an answer on v1/devices/me/rpc/response/<id> tells which kind it is.

CREATE SEQUENCE IF NOT EXISTS "device_rpc_request_seq"
    AS INTEGER START WITH 1000000000 MINVALUE 1000000000 MAXVALUE 2147483647 CYCLE;

CREATE TABLE IF NOT EXISTS "device_rpc" (
    "id" UUID NOT NULL DEFAULT gen_random_uuid(),
    "device_id" UUID NOT NULL,
    "request_id" INTEGER NOT NULL DEFAULT nextval('device_rpc_request_seq'),
    "method" TEXT NOT NULL,
    "params" JSONB NOT NULL DEFAULT '{}',
    "oneway" BOOLEAN NOT NULL DEFAULT false,
    "persistent" BOOLEAN NOT NULL DEFAULT true,
    "status" TEXT NOT NULL DEFAULT 'QUEUED',
    "response" JSONB,
    "error" TEXT,
    "retries" INTEGER NOT NULL DEFAULT 0,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "timeout_ms" INTEGER NOT NULL,
    "expiration_time" TIMESTAMPTZ(3) NOT NULL,
    "additional_info" JSONB,
    "created_by" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "sent_at" TIMESTAMPTZ(3),
    "delivered_at" TIMESTAMPTZ(3),
    "completed_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "device_rpc_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "device_rpc_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "device_rpc_status_check" CHECK ("status" IN
        ('QUEUED', 'SENT', 'DELIVERED', 'SUCCESSFUL', 'TIMEOUT', 'EXPIRED', 'FAILED', 'CANCELLED')),
    CONSTRAINT "device_rpc_retries_check" CHECK ("retries" >= 0),
    CONSTRAINT "device_rpc_timeout_check" CHECK ("timeout_ms" > 0)
);

ALTER SEQUENCE "device_rpc_request_seq" OWNED BY "device_rpc"."request_id";

CREATE UNIQUE INDEX IF NOT EXISTS "device_rpc_device_request_key" ON "device_rpc"("device_id", "request_id");
-- History of a device, newest first (GET /api/devices/{idOrName}/rpc).
CREATE INDEX IF NOT EXISTS "device_rpc_device_created_idx" ON "device_rpc"("device_id", "created_at" DESC);
-- Unfinished rows only (completed_at is set by every final state, a oneway DELIVERED too):
-- pending for a device (delivery on connect, the marker rebuild), the sweeper's expiry scan,
-- and its scan for attempts that timed out.
CREATE INDEX IF NOT EXISTS "device_rpc_pending_idx" ON "device_rpc"("device_id", "created_at")
    WHERE "completed_at" IS NULL;
CREATE INDEX IF NOT EXISTS "device_rpc_expiration_idx" ON "device_rpc"("expiration_time")
    WHERE "completed_at" IS NULL;
CREATE INDEX IF NOT EXISTS "device_rpc_inflight_idx" ON "device_rpc"("sent_at")
    WHERE "completed_at" IS NULL AND "status" IN ('SENT', 'DELIVERED');
