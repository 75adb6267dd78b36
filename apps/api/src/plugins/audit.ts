/**
 * `app.audit(req, change)`: records a change made by the request's principal in audit_log
 * (services/audit.ts). Routes call it after the change is committed. The entry is written
 * after the change, not in its transaction: a failed audit write is logged at error level
 * and does not turn a committed change into an error the client would retry.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { insertAudit } from '../services/audit.js';

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
    audit: (req: FastifyRequest, change: AuditChange) => Promise<void>;
  }
}

export const auditPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorate('audit', async (req: FastifyRequest, change: AuditChange) => {
      const p = req.principal;
      const actor = change.actor ?? (p ? { kind: p.kind, id: p.id, userId: p.userId ?? null } : undefined);
      const entry = {
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
      };
      try {
        await insertAudit(app.pg, entry);
      } catch (err) {
        req.log.error(
          { err: (err as Error).message, action: change.action, entityId: change.entityId },
          'could not write the audit log entry',
        );
      }
    });
  },
  { name: 'audit', dependencies: ['resources'] },
);
