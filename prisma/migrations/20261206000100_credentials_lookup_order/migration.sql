-- A CONNECT is looked up by MQTT Basic credentials (client id + username) before its
-- username as an access token. The verified-credential cache shared in Redis answers a match
-- further down that order (an access-token device that sends a client id) only while no MQTT
-- Basic credentials were added or re-keyed since it was stored: this epoch counts those
-- changes, whoever makes them (API, import, provisioning, SQL), and every gateway copies it
-- to Redis once a second (packages/device-auth/src/shared-cache.ts).
CREATE TABLE "credentials_lookup_order" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "epoch" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "credentials_lookup_order_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "credentials_lookup_order_one_row" CHECK ("id" = 1)
);

INSERT INTO "credentials_lookup_order" ("id", "epoch") VALUES (1, 0);

-- Statement-level: an import of thousands of devices is one bump, not thousands.
CREATE FUNCTION bump_credentials_lookup_order() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NOT EXISTS (SELECT 1 FROM new_rows WHERE type = 'MQTT_BASIC') THEN
      RETURN NULL;
    END IF;
  ELSIF NOT EXISTS (
    SELECT 1 FROM new_rows n
     WHERE n.type = 'MQTT_BASIC'
       AND NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.credentials_id = n.credentials_id AND o.type = n.type)
  ) THEN
    RETURN NULL;
  END IF;
  UPDATE credentials_lookup_order SET epoch = epoch + 1 WHERE id = 1;
  RETURN NULL;
END;
$$;

CREATE TRIGGER device_credentials_basic_added
  AFTER INSERT ON "device_credentials"
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION bump_credentials_lookup_order();

CREATE TRIGGER device_credentials_basic_rekeyed
  AFTER UPDATE ON "device_credentials"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION bump_credentials_lookup_order();
