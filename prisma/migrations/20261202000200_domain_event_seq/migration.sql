-- Commit-ordered sequence of domain events: `seq` order equals commit order, so a reader
-- that has seen every event up to seq N and later asks for "seq > N" never misses one that
-- committed after its read. Writers (apps/worker/src/outbox.ts `insertEventsAndCommit`) take
-- a global transaction-scoped advisory lock, insert their events with
-- nextval('domain_events_seq') and COMMIT: the lock is released only after the commit is
-- visible, so the next holder's numbers are larger and commit later. Existing rows are
-- numbered in created order.
CREATE SEQUENCE "domain_events_seq" AS BIGINT;

ALTER TABLE "domain_events" ADD COLUMN "seq" BIGINT;

UPDATE "domain_events" e SET "seq" = x.n
  FROM (SELECT "id", row_number() OVER (ORDER BY "created_at", "id") AS n FROM "domain_events") x
 WHERE e."id" = x."id";

SELECT setval('"domain_events_seq"', COALESCE((SELECT max("seq") FROM "domain_events"), 0) + 1, false);

ALTER TABLE "domain_events" ALTER COLUMN "seq" SET NOT NULL;

CREATE UNIQUE INDEX "domain_events_seq_key" ON "domain_events" ("seq");
