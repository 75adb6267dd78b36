/**
 * Jobs refused for good (schema-invalid payloads) go to the `dead_letters` table with the
 * reason, then fail with BullMQ's UnrecoverableError: recorded, visible, never retried.
 */
import type { Pool } from '@spms/db';

export async function recordDeadLetter(
  pool: Pool,
  entry: { queue: string; jobId: string; jobName: string; reason: string; payload: unknown },
): Promise<void> {
  let payload: string | null;
  try {
    payload = JSON.stringify(entry.payload ?? null);
  } catch {
    payload = null;
  }
  await pool.query(
    `INSERT INTO dead_letters (queue, job_id, job_name, reason, payload) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (queue, job_id) DO UPDATE SET reason = EXCLUDED.reason, failed_at = now()`,
    [entry.queue, entry.jobId, entry.jobName, entry.reason, payload],
  );
}
