/**
 * The audit log: one row per change made through the operator API (who, what, when,
 * before/after). Values pass through `redactSecrets` first: no password, token, key or
 * hash ever reaches the table, whatever a route hands in.
 *
 * An entry is written in the transaction of the change it records (the change and its entry
 * commit together or not at all): services take an `AuditHook` and call it inside their
 * transaction with its executor (a pg client, or `prismaExec(tx)` for Prisma's).
 */
import type { Pool, Prisma } from '@spms/db';
import { AppError } from '../../core/errors.js';
import { hideSecretIdentifiers } from '../devices/credentials-request.js';

/** Runs one statement: a pg pool or client, or a Prisma transaction (`prismaExec`). */
export interface SqlExec {
  query(text: string, values?: unknown[]): Promise<unknown>;
}

/** Writes the audit entry of `value` (what the change produced) with the change's executor. */
export type AuditHook<T> = (db: SqlExec, value: T) => Promise<void>;

/** A Prisma interactive transaction as an executor (so the entry joins that transaction). */
export const prismaExec = (tx: Prisma.TransactionClient): SqlExec => ({
  query: (text, values = []) => tx.$executeRawUnsafe(text, ...values),
});

export interface AuditEntry {
  principalKind: string;
  principalId: string;
  userId?: string | null;
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
  ip?: string | null;
}

// Field names whose values are secrets or derived from secrets (hashes, look-up keys).
const SECRET_FIELD =
  /^(password|passwordHash|password_hash|token|tokenHash|token_hash|key|keyHash|key_hash|secret|credentialsId|credentials_id|issuedCredentials)$/i;

/** A JSON-safe deep copy with secret fields replaced by "[redacted]" (or dropped when null). */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (value === null || value === undefined) return null;
  if (depth > 20) return '[too deep]';
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (v === undefined) continue;
    out[k] = SECRET_FIELD.test(k) ? (v === null ? null : '[redacted]') : redactSecrets(v, depth + 1);
  }
  return out;
}

export async function insertAudit(db: SqlExec, e: AuditEntry): Promise<void> {
  const json = (v: unknown) => (v === undefined || v === null ? null : JSON.stringify(redactSecrets(v)));
  await db.query(
    `INSERT INTO audit_log (principal_kind, principal_id, user_id, action, entity_type, entity_id, before, after, request_id, ip)
     VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9, $10)`,
    [
      e.principalKind,
      e.principalId,
      e.userId ?? null,
      e.action,
      e.entityType,
      e.entityId ?? null,
      json(e.before),
      json(e.after),
      e.requestId ?? null,
      e.ip ?? null,
    ],
  );
}

export interface AuditQuery {
  entityType?: string;
  entityId?: string;
  action?: string;
  userId?: string;
  principalId?: string;
  from?: string;
  to?: string;
  limit?: number;
  cursor?: string;
}

interface AuditRow {
  id: string;
  at: Date;
  principal_kind: string;
  principal_id: string;
  user_id: string | null;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: unknown;
  after: unknown;
  request_id: string | null;
  ip: string | null;
}

/** Newest first; `nextCursor` continues after the last item (stable under concurrent inserts). */
export async function listAudit(pg: Pool, q: AuditQuery) {
  const limit = q.limit ?? 100;
  if (q.cursor !== undefined && !/^[1-9][0-9]{0,18}$/.test(q.cursor))
    throw new AppError('BAD_REQUEST', 'cursor: pass the nextCursor of the previous page');
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, v: unknown) => {
    params.push(v);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (q.entityType) add('entity_type = ?', q.entityType);
  if (q.entityId) add('entity_id = ?', q.entityId);
  if (q.action) add('action = ?', q.action);
  if (q.userId) add('user_id = ?::uuid', q.userId);
  if (q.principalId) add('principal_id = ?', q.principalId);
  if (q.from) add('at >= ?::timestamptz', q.from);
  if (q.to) add('at < ?::timestamptz', q.to);
  if (q.cursor) add('id < ?::bigint', q.cursor);
  params.push(limit + 1);
  const res = await pg.query<AuditRow>(
    `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${params.length}`,
    params,
  );
  const rows = res.rows.slice(0, limit);
  return {
    items: rows.map((r) => ({
      id: String(r.id),
      at: r.at.toISOString(),
      principalKind: r.principal_kind,
      principalId: r.principal_id,
      userId: r.user_id,
      action: r.action,
      entityType: r.entity_type,
      entityId: r.entity_id,
      // Entries from before password-less MQTT Basic identifiers were hidden may hold them.
      before: hideSecretIdentifiers(r.before),
      after: hideSecretIdentifiers(r.after),
      requestId: r.request_id,
      ip: r.ip,
    })),
    nextCursor: res.rows.length > limit ? String(rows[rows.length - 1]?.id) : null,
  };
}
