/**
 * Dead letters (table written by the worker, apps/worker/src/dead-letter.ts): device
 * messages (or whole jobs) the worker refused for good. Operators list them in their scope
 * and replay or discard them. A dead letter is scoped by its device; one without a device
 * (a whole job, or a message naming no valid device) is visible to unscoped users only.
 */
import type { Pool, Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';

export type DeadLetterStatus = 'open' | 'replayed' | 'discarded';

export interface DeadLetterItem {
  id: string;
  queue: string;
  jobId: string;
  /** null for a whole-job dead letter. */
  messageId: string | null;
  deviceId: string | null;
  deviceName: string | null;
  region: string | null;
  customer: string | null;
  reason: string;
  payload: unknown;
  receivedAt: string | null;
  failedAt: string;
  status: DeadLetterStatus;
  replayedAt: string | null;
  resolvedBy: string | null;
}

export interface DeadLetterFilters {
  /** Device id or name. */
  device?: string;
  status?: DeadLetterStatus;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const COLUMNS = `dl.id::text AS id, dl.queue, dl.job_id, dl.message_id, dl.device_id, d.name, d.region, d.customer,
  dl.reason, dl.payload, dl.received_at, dl.failed_at, dl.status, dl.replayed_at, dl.resolved_by`;
const FROM = 'dead_letters dl LEFT JOIN devices d ON d.id = dl.device_id';

interface Row {
  id: string;
  queue: string;
  job_id: string;
  message_id: string;
  device_id: string | null;
  name: string | null;
  region: string | null;
  customer: string | null;
  reason: string;
  payload: unknown;
  received_at: Date | null;
  failed_at: Date;
  status: DeadLetterStatus;
  replayed_at: Date | null;
  resolved_by: string | null;
}

function toItem(r: Row): DeadLetterItem {
  return {
    id: r.id,
    queue: r.queue,
    jobId: r.job_id,
    messageId: r.message_id === '' ? null : r.message_id,
    deviceId: r.device_id,
    deviceName: r.name,
    region: r.region,
    customer: r.customer,
    reason: r.reason,
    payload: r.payload,
    receivedAt: r.received_at?.toISOString() ?? null,
    failedAt: r.failed_at.toISOString(),
    status: r.status,
    replayedAt: r.replayed_at?.toISOString() ?? null,
    resolvedBy: r.resolved_by,
  };
}

function filterWhere(scope: Scope | null, f: DeadLetterFilters, params: SqlParams): string {
  // LEFT JOIN: for a scoped user, a letter without a (known) device fails the condition.
  const w = [scopeCondition(scope, 'd', params)];
  if (f.device !== undefined)
    w.push(
      UUID_RE.test(f.device) ? `dl.device_id = ${params.add(f.device)}::uuid` : `d.name = ${params.add(f.device)}`,
    );
  if (f.status !== undefined) w.push(`dl.status = ${params.add(f.status)}`);
  return w.join(' AND ');
}

export interface DeadLetterPage {
  items: DeadLetterItem[];
  /** Dead letters matching the filters in the caller's scope (all pages). */
  total: number;
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** Newest first, keyset pagination on id. */
export async function listDeadLetters(
  pg: Pool,
  scope: Scope | null,
  filters: DeadLetterFilters,
  page: { cursor?: string; limit: number },
): Promise<DeadLetterPage> {
  const params = new SqlParams();
  const where = filterWhere(scope, filters, params);
  const countValues = [...params.values];
  let pageWhere = where;
  if (page.cursor !== undefined) {
    if (!/^\d{1,18}$/.test(page.cursor))
      throw new AppError('BAD_REQUEST', 'invalid querystring: cursor is not one this API returned');
    pageWhere += ` AND dl.id < ${params.add(page.cursor)}::bigint`;
  }
  const [rows, count] = await Promise.all([
    pg.query<Row>(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE ${pageWhere} ORDER BY dl.id DESC LIMIT ${params.add(page.limit + 1)}`,
      params.values,
    ),
    pg.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${FROM} WHERE ${where}`, countValues),
  ]);
  const items = rows.rows.slice(0, page.limit).map(toItem);
  const more = rows.rows.length > page.limit;
  return { items, total: count.rows[0]?.n ?? 0, nextCursor: more ? (items.at(-1)?.id ?? null) : null };
}

/** One dead letter in the caller's scope; 404 otherwise (as a missing one). */
export async function getDeadLetter(pg: Pool, scope: Scope | null, id: string): Promise<DeadLetterItem> {
  const params = new SqlParams();
  const where = filterWhere(scope, {}, params);
  const { rows } = await pg.query<Row>(
    `SELECT ${COLUMNS} FROM ${FROM} WHERE dl.id = ${params.add(id)}::bigint AND ${where}`,
    params.values,
  );
  if (!rows[0]) throw new AppError('NOT_FOUND', `no dead letter ${id}`);
  return toItem(rows[0]);
}

/** Sets the status (replayed / discarded) and who did it, with `db` (the change's transaction). */
export async function setDeadLetterStatus(
  db: Queryable,
  id: string,
  status: 'replayed' | 'discarded',
  by: string,
): Promise<void> {
  await db.query(
    `UPDATE dead_letters SET status = $2, resolved_by = $3,
            replayed_at = CASE WHEN $2 = 'replayed' THEN now() ELSE replayed_at END
      WHERE id = $1::bigint`,
    [id, status, by],
  );
}
