-- Device attributes (ThingsBoard's client / shared / server scopes), read and written
-- through `pg` (not Prisma): the gateway answers attribute requests from it, the worker
-- stores client attributes sent by devices, the operator API stores shared attributes
-- pushed to devices.
CREATE TABLE "device_attributes" (
    "device_id" UUID NOT NULL REFERENCES "devices"("id") ON DELETE CASCADE,
    "scope" TEXT NOT NULL CHECK ("scope" IN ('client', 'shared', 'server')),
    "key" TEXT NOT NULL,
    "value" JSONB NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT now(),
    CONSTRAINT "device_attributes_pkey" PRIMARY KEY ("device_id", "scope", "key")
);
