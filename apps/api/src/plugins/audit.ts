/**
 * Audit entries in the change's own transaction: a change and its audit_log row commit
 * together or not at all (routes/audit/audit.ts). A failed audit insert rolls the change back
 * and the request fails (500): nothing changes without a record of who changed it.
 * - `app.audit(req, change, db)`: writes the entry with `db`, the change's transaction
 *   (a pg client from `withTransaction`, or `prismaExec(tx)`).
 * - `app.auditing(req, describe)`: an `AuditHook` for services that run their own
 *   transaction; `describe` turns what the change produced into the entry (null: nothing
 *   changed, no entry).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { type AuditHook, insertAudit, type SqlExec } from '../routes/audit/audit.js';

export interface AuditChange {
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
  /** For routes that act before a principal exists (sign-in). */
  actor?: { kind: string; id: string; userId?: string | null };
}

declare module 'fastify' {
  interface FastifyInstance {
    audit: (req: FastifyRequest, change: AuditChange, db: SqlExec) => Promise<void>;
    auditing: <T>(req: FastifyRequest, describe: (value: T) => AuditChange | null) => AuditHook<T>;
  }
}

export const auditPlugin = fp(
  async (app: FastifyInstance) => {
    const audit = async (req: FastifyRequest, change: AuditChange, db: SqlExec) => {
      const p = req.principal;
      const actor = change.actor ?? (p ? { kind: p.kind, id: p.id, userId: p.userId ?? null } : undefined);
      await insertAudit(db, {
        principalKind: actor?.kind ?? 'anonymous',
        principalId: actor?.id ?? 'anonymous',
        userId: actor?.userId ?? null,
        action: change.action,
        entityType: change.entityType,
        entityId: change.entityId ?? null,
        before: change.before,
        after: change.after,
        requestId: String(req.id),
        ip: req.ip,
      });
    };
    app.decorate('audit', audit);
    app.decorate(
      'auditing',
      <T>(req: FastifyRequest, describe: (value: T) => AuditChange | null): AuditHook<T> =>
        async (db, value) => {
          const change = describe(value);
          if (change) await audit(req, change, db);
        },
    );
  },
  { name: 'audit', dependencies: ['resources'] },
);
