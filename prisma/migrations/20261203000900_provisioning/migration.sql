-- Device provisioning and claiming (ThingsBoard's device protocols).
-- A profile may let devices register themselves: a provision key (not secret, unique) and a
-- secret (stored only as a scrypt hash, shown once), a strategy (ThingsBoard's three:
-- allow_create, pre_provisioned, disabled), whether devices may bring their own credentials,
-- and the region / customer new devices get. A device records when it was provisioned
-- (pre_provisioned provisions a name once). A device's claim request (its secret hashed,
-- with an expiry) waits in device_claims until an operator claims the device.

ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_strategy" TEXT NOT NULL DEFAULT 'disabled';
ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_key" TEXT;
ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_secret_hash" TEXT;
ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_device_credentials" BOOLEAN NOT NULL DEFAULT true;
ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_region" TEXT;
ALTER TABLE "device_profiles" ADD COLUMN IF NOT EXISTS "provision_customer" TEXT;
ALTER TABLE "device_profiles" DROP CONSTRAINT IF EXISTS "device_profiles_provision_strategy_check";
ALTER TABLE "device_profiles" ADD CONSTRAINT "device_profiles_provision_strategy_check"
    CHECK ("provision_strategy" IN ('allow_create', 'pre_provisioned', 'disabled'));
CREATE UNIQUE INDEX IF NOT EXISTS "device_profiles_provision_key_key" ON "device_profiles"("provision_key");

ALTER TABLE "devices" ADD COLUMN IF NOT EXISTS "provisioned_at" TIMESTAMPTZ(3);

CREATE TABLE IF NOT EXISTS "device_claims" (
    "device_id" UUID NOT NULL,
    "secret_hash" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "device_claims_pkey" PRIMARY KEY ("device_id"),
    CONSTRAINT "device_claims_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
