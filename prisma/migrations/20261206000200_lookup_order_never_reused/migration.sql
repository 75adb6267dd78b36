-- The look-up order epoch never takes a value twice, even across a restore of the database
-- from a backup. As a counter (epoch + 1), a database restored to an older epoch handed out
-- the same numbers again for different changes, and an entry of the shared verified-credential
-- cache stored under the pre-restore number (Redis is not restored with PostgreSQL) would have
-- counted again although MQTT Basic credentials added since come first in the look-up order.
-- Now each bump is at least the clock in microseconds: later than anything a backup holds.
CREATE OR REPLACE FUNCTION bump_credentials_lookup_order() RETURNS trigger
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
  UPDATE credentials_lookup_order
     SET epoch = GREATEST(epoch + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint)
   WHERE id = 1;
  RETURN NULL;
END;
$$;
