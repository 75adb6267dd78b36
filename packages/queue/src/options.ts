/**
 * BullMQ options shared by the ingest producer (gateway) and consumer (worker), so both
 * sides agree on the key prefix and on what happens to a job that fails.
 */
import type { DefaultJobOptions } from 'bullmq';

export interface IngestQueueOptions {
  /** BullMQ key prefix: every key lives under `<prefix>:ingest:*`. */
  prefix: string;
  defaultJobOptions: DefaultJobOptions;
}

export function ingestQueueOptions(prefix: string): IngestQueueOptions {
  return {
    prefix,
    defaultJobOptions: {
      // A batch fails as a whole when PostgreSQL is down; the worker is idempotent by
      // message id, so retrying the whole batch is safe. ~17 min of back-off in total
      // (1 s · 2^0..9) covers a database restart; after that the job stays in "failed"
      // for an operator to retry, never silently dropped.
      attempts: 10,
      backoff: { type: 'exponential', delay: 1000 },
      // Completed batches are only useful for debugging: keep the last hour, bounded.
      removeOnComplete: { age: 3600, count: 10_000 },
      // Failed batches are data not yet stored: keep them two weeks.
      removeOnFail: { age: 14 * 24 * 3600 },
    },
  };
}
