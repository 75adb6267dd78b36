/**
 * Operator API keys: shown once at creation, stored as sha256 (plugins/auth.ts checks them).
 * A key may belong to a user: it then acts with at most the user's role, within both the
 * key's and the user's scope, and dies with the user (disabled or deleted). Written
 * through pg: a NULL scope list ("unrestricted") cannot be written with Prisma lists.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';

export type ApiKeyRole = 'admin' | 'operator' | 'viewer';

/**
 * Prefix of API keys: makes leaked keys easy to spot (secret scanners, logs) and can never
 * be confused with a session token (`spms_s_`, routes/auth/sessions.ts). Keys issued before it
 * were `spms_` + random, and 1 in 4096 of those began with `spms_s_` (plugins/auth.ts still
 * accepts them).
 */
export const API_KEY_PREFIX = 'spms_k_';

/** A new API key: the prefix and 192 random bits. */
export function generateApiKey(random: (n: number) => Buffer = randomBytes): string {
  return `${API_KEY_PREFIX}${random(24).toString('base64url')}`;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

interface ApiKeyRow {
  id: string;
  name: string;
  role: ApiKeyRole;
  user_id: string | null;
  username: string | null;
  regions: string[] | null;
  customers: string[] | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export function toApiKeyView(k: ApiKeyRow) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    userId: k.user_id,
    username: k.username,
    regions: k.regions,
    customers: k.customers,
    createdAt: k.created_at.toISOString(),
    lastUsedAt: k.last_used_at?.toISOString() ?? null,
    revokedAt: k.revoked_at?.toISOString() ?? null,
  };
}
export type ApiKeyView = ReturnType<typeof toApiKeyView>;

export interface CreateApiKeyInput {
  name: string;
  role?: ApiKeyRole;
  /** Owner; omitted → the signed-in caller (if any); null → no owner. */
  userId?: string | null;
  regions?: string[] | null;
  customers?: string[] | null;
}

const SELECT = 'SELECT k.*, u.username FROM api_keys k LEFT JOIN users u ON u.id = k.user_id';
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class ApiKeyService {
  constructor(private readonly pg: Queryable) {}

  /** The same service inside the caller's transaction (a change and its audit entry). */
  inTransaction(tx: Queryable): ApiKeyService {
    return new ApiKeyService(tx);
  }

  async create(input: CreateApiKeyInput, caller?: Principal): Promise<ApiKeyView & { key: string }> {
    const role = input.role ?? 'admin';
    const regions = input.regions ?? null;
    const customers = input.customers ?? null;
    if (role === 'admin' && (regions || customers))
      throw new AppError(
        'BAD_REQUEST',
        'regions/customers: an admin key cannot be scoped; use role operator or viewer',
      );
    const userId = input.userId !== undefined ? input.userId : (caller?.userId ?? null);
    if (userId !== null) {
      const owner = UUID_RE.test(userId)
        ? (await this.pg.query('SELECT id FROM users WHERE id = $1', [userId])).rows[0]
        : undefined;
      if (!owner) throw new AppError('BAD_REQUEST', `userId: no user with id "${userId}"`);
    }
    const key = generateApiKey();
    const res = await this.pg.query<{ id: string }>(
      `INSERT INTO api_keys (id, name, key_hash, role, user_id, regions, customers)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6) RETURNING id`,
      [input.name, hashApiKey(key), role, userId, regions, customers],
    );
    return { ...(await this.get((res.rows[0] as { id: string }).id)), key };
  }

  async list(q: { userId?: string } = {}): Promise<ApiKeyView[]> {
    const res = await this.pg.query<ApiKeyRow>(
      `${SELECT} WHERE ($1::uuid IS NULL OR k.user_id = $1) ORDER BY k.created_at, k.id`,
      [q.userId ?? null],
    );
    return res.rows.map(toApiKeyView);
  }

  async get(id: string): Promise<ApiKeyView> {
    const row = UUID_RE.test(id)
      ? (await this.pg.query<ApiKeyRow>(`${SELECT} WHERE k.id = $1`, [id])).rows[0]
      : undefined;
    if (!row) throw new AppError('NOT_FOUND', `no API key with id "${id}"`);
    return toApiKeyView(row);
  }

  /** Returns the key before and after (already revoked: unchanged). */
  async revoke(id: string): Promise<{ before: ApiKeyView; after: ApiKeyView }> {
    const before = await this.get(id);
    if (before.revokedAt) return { before, after: before };
    await this.pg.query('UPDATE api_keys SET revoked_at = now() WHERE id = $1', [id]);
    return { before, after: await this.get(id) };
  }
}
