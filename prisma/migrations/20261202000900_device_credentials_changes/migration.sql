-- Every change or removal of a device's credentials (rotation, revocation, the device
-- deleted) is recorded here by a trigger, whoever made it. Gateways and API processes
-- poll it every second, so a revoked or rotated credential stops working within seconds
-- even when the Redis invalidation message is lost. Rows older than an hour are pruned
-- by the pollers.
CREATE TABLE "device_credentials_changes" (
    "seq" BIGSERIAL NOT NULL,
    "device_id" UUID NOT NULL,
    "changed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT clock_timestamp(),

    CONSTRAINT "device_credentials_changes_pkey" PRIMARY KEY ("seq")
);

CREATE INDEX "device_credentials_changes_changed_at_idx" ON "device_credentials_changes"("changed_at");

CREATE FUNCTION record_device_credentials_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO device_credentials_changes (device_id) VALUES (OLD.device_id);
  RETURN NULL;
END;
$$;

CREATE TRIGGER device_credentials_removed
  AFTER DELETE ON "device_credentials"
  FOR EACH ROW EXECUTE FUNCTION record_device_credentials_change();

-- Only a change of what authenticates counts (not e.g. a touched updated_at).
CREATE TRIGGER device_credentials_changed
  AFTER UPDATE ON "device_credentials"
  FOR EACH ROW WHEN (
    OLD.device_id IS DISTINCT FROM NEW.device_id
    OR OLD.type IS DISTINCT FROM NEW.type
    OR OLD.credentials_id IS DISTINCT FROM NEW.credentials_id
    OR OLD.client_id IS DISTINCT FROM NEW.client_id
    OR OLD.username IS DISTINCT FROM NEW.username
    OR OLD.password_hash IS DISTINCT FROM NEW.password_hash
  )
  EXECUTE FUNCTION record_device_credentials_change();
