/**
 * Sign-in sessions. The token is 256 random bits, shown once, stored as its sha256.
 * Lifetime: sliding — each use moves the expiry to now + idle TTL (written at most once a
 * minute), but never past created + max TTL, after which the user signs in again.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '@spms/db';
import type { UserRow } from '../users/users.js';

export const SESSION_TOKEN_PREFIX = 'spms_s_';
const RENEW_RESOLUTION_MS = 60_000;

export interface SessionPolicy {
  idleTtlSec: number;
  maxTtlSec: number;
}

export const hashToken = (token: string) => createHash('sha256').update(token).digest('hex');

export interface ResolvedSession {
  sessionId: string;
  expiresAt: Date;
  user: UserRow;
}

export class SessionService {
  constructor(
    private readonly pg: Queryable,
    private readonly policy: SessionPolicy,
  ) {}

  /** The same service inside the caller's transaction (a change and its audit entry). */
  inTransaction(tx: Queryable): SessionService {
    return new SessionService(tx, this.policy);
  }

  async create(userId: string, meta: { ip?: string; userAgent?: string }): Promise<{ token: string; expiresAt: Date }> {
    const token = `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const ttl = Math.min(this.policy.idleTtlSec, this.policy.maxTtlSec);
    const res = await this.pg.query<{ expires_at: Date }>(
      `INSERT INTO sessions (id, user_id, token_hash, expires_at, ip, user_agent)
       VALUES (gen_random_uuid(), $1, $2, now() + make_interval(secs => $3), $4, $5) RETURNING expires_at`,
      [userId, hashToken(token), ttl, meta.ip ?? null, meta.userAgent?.slice(0, 300) ?? null],
    );
    return { token, expiresAt: (res.rows[0] as { expires_at: Date }).expires_at };
  }

  /** The live session and its (enabled) user, renewing the expiry; undefined otherwise. */
  async resolve(token: string): Promise<ResolvedSession | undefined> {
    const res = await this.pg.query<UserRow & { session_id: string; expires_at: Date; last_seen_at: Date }>(
      `SELECT u.*, s.id AS session_id, s.expires_at, s.last_seen_at
         FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = $1 AND s.expires_at > now() AND u.disabled_at IS NULL`,
      [hashToken(token)],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    const { session_id, expires_at, last_seen_at, ...user } = row;
    let expiresAt = expires_at;
    if (Date.now() - last_seen_at.getTime() > RENEW_RESOLUTION_MS) {
      const renewed = await this.pg.query<{ expires_at: Date }>(
        `UPDATE sessions SET last_seen_at = now(),
                expires_at = least(now() + make_interval(secs => $2), created_at + make_interval(secs => $3))
          WHERE id = $1 RETURNING expires_at`,
        [session_id, this.policy.idleTtlSec, this.policy.maxTtlSec],
      );
      expiresAt = renewed.rows[0]?.expires_at ?? expiresAt;
    }
    return { sessionId: session_id, expiresAt, user };
  }

  async revoke(sessionId: string): Promise<void> {
    await this.pg.query('DELETE FROM sessions WHERE id = $1', [sessionId]);
  }

  /** Housekeeping: expired rows are useless (a sign-in creates a new one). */
  async purgeExpired(): Promise<number> {
    const res = await this.pg.query('DELETE FROM sessions WHERE expires_at < now()');
    return res.rowCount ?? 0;
  }
}
