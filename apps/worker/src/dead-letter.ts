/**
 * Dead letters (`dead_letters`): what the worker refused for good, visible to operators
 * (GET /api/dead-letters), who replay or discard it.
 * - one invalid message of a job: recorded alone, with its device, raw form and reason; the
 *   job's other messages are processed (recordMessageDeadLetters);
 * - a whole-job problem (unknown contract version, wrong job name): one row with
 *   message_id '' and the job's payload, then the job fails with BullMQ's
 *   UnrecoverableError, never retried (recordDeadLetter).
 */
import type { Pool } from '@spms/db';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Messages dead-lettered by this process since it started (logged; see the README). */
export const deadLetterCounts = { messages: 0, jobs: 0 };

function toJson(value: unknown): string | null {
  try {
    return JSON.stringify(value ?? null);
  } catch {
    return null;
  }
}

export async function recordDeadLetter(
  pool: Pool,
  entry: { queue: string; jobId: string; jobName: string; reason: string; payload: unknown },
): Promise<void> {
  await pool.query(
    `INSERT INTO dead_letters (queue, job_id, job_name, reason, payload) VALUES ($1, $2, $3, $4, $5::jsonb)
     ON CONFLICT (queue, job_id, message_id) DO UPDATE SET reason = EXCLUDED.reason, failed_at = now()`,
    [entry.queue, entry.jobId, entry.jobName, entry.reason, toJson(entry.payload)],
  );
  deadLetterCounts.jobs++;
}

export interface InvalidMessage {
  /** Position in the job's `messages`. */
  index: number;
  message: unknown;
  reason: string;
}

/**
 * One row per invalid message, idempotent by message id: a redelivered job (or the same
 * message in another job) neither duplicates a row nor reopens one an operator already
 * replayed or discarded.
 */
export async function recordMessageDeadLetters(
  pool: Pool,
  job: { queue: string; jobId: string; jobName: string },
  invalid: readonly InvalidMessage[],
): Promise<void> {
  if (invalid.length === 0) return;
  const cols = { messageId: [] as string[], deviceId: [] as (string | null)[], receivedAt: [] as (number | null)[] };
  const reasons: string[] = [];
  const payloads: (string | null)[] = [];
  for (const { index, message, reason } of invalid) {
    const m = (typeof message === 'object' && message !== null ? message : {}) as Record<string, unknown>;
    // A message without a usable id is named by its position (unique within the job).
    cols.messageId.push(typeof m.id === 'string' && m.id.length > 0 && m.id.length <= 200 ? m.id : `#${index}`);
    cols.deviceId.push(typeof m.deviceId === 'string' && UUID.test(m.deviceId) ? m.deviceId : null);
    const at = m.receivedAt;
    cols.receivedAt.push(typeof at === 'number' && Number.isSafeInteger(at) && at > 0 && at < 8.64e15 ? at : null);
    reasons.push(reason);
    // jsonb refuses what made the message invalid in the first place (NUL, lone surrogates):
    // such a payload is kept as its JSON text, so the operator still sees it.
    const json = toJson(message);
    payloads.push(json === null ? null : storable(json) ? json : JSON.stringify({ unstorableJson: json }));
  }
  await pool.query(
    `INSERT INTO dead_letters (queue, job_id, job_name, message_id, device_id, received_at, reason, payload)
     SELECT $1, $2, $3, m, d, to_timestamp(r / 1000.0), reason, p::jsonb
       FROM unnest($4::text[], $5::uuid[], $6::float8[], $7::text[], $8::text[]) AS t(m, d, r, reason, p)
      -- The same message queued again in another job (a gateway retry) is the same letter.
      WHERE m LIKE '#%' OR NOT EXISTS (SELECT 1 FROM dead_letters x WHERE x.queue = $1 AND x.message_id = t.m)
     ON CONFLICT (queue, job_id, message_id) DO NOTHING`,
    [job.queue, job.jobId, job.jobName, cols.messageId, cols.deviceId, cols.receivedAt, reasons, payloads],
  );
  deadLetterCounts.messages += invalid.length;
}

/**
 * False when PostgreSQL's jsonb may refuse this JSON text: JSON.stringify writes NUL as
 * \u0000 and a lone surrogate as \udXXX; a well-formed pair is written as is. (A literal
 * backslash-u in a string matches too: such a payload is just kept as text.)
 */
function storable(json: string): boolean {
  return !/\\u0000|\\ud[89a-f]/i.test(json);
}
