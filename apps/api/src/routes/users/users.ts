/**
 * Operator API users (admins manage them through /api/users). Written through pg because
 * a NULL scope list ("unrestricted") cannot be written with Prisma's scalar lists.
 */
import { type Queryable, withTransaction } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Principal } from '../../core/principal.js';
import { checkPasswordStrength, hashPassword, type ScryptParams } from './passwords.js';

export type Role = Principal['role'];

export interface UserRow {
  id: string;
  username: string;
  email: string | null;
  display_name: string | null;
  password_hash: string | null;
  role: Role;
  regions: string[] | null;
  customers: string[] | null;
  disabled_at: Date | null;
  password_changed_at: Date | null;
  last_login_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export function toUserView(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    email: u.email,
    displayName: u.display_name,
    role: u.role,
    regions: u.regions,
    customers: u.customers,
    disabled: u.disabled_at !== null,
    hasPassword: u.password_hash !== null,
    passwordChangedAt: u.password_changed_at?.toISOString() ?? null,
    lastLoginAt: u.last_login_at?.toISOString() ?? null,
    createdAt: u.created_at.toISOString(),
    updatedAt: u.updated_at.toISOString(),
  };
}
export type UserView = ReturnType<typeof toUserView>;

export interface UserInput {
  username?: string;
  email?: string | null;
  displayName?: string | null;
  role?: Role;
  regions?: string[] | null;
  customers?: string[] | null;
  disabled?: boolean;
  password?: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/** A scope list as stored: trimmed, de-duplicated; null = unrestricted. */
function normalizeList(list: string[] | null | undefined): string[] | null {
  if (list === null || list === undefined) return null;
  return [...new Set(list.map((s) => s.trim()).filter(Boolean))];
}

export class UserService {
  constructor(
    private readonly pg: Queryable,
    private readonly scrypt: ScryptParams,
  ) {}

  /** The same service inside the caller's transaction (a change and its audit entry). */
  inTransaction(tx: Queryable): UserService {
    return new UserService(tx, this.scrypt);
  }

  async list(q: { role?: Role; disabled?: boolean } = {}): Promise<UserView[]> {
    const res = await this.pg.query<UserRow>(
      `SELECT * FROM users WHERE ($1::text IS NULL OR role = $1)
         AND ($2::boolean IS NULL OR (disabled_at IS NOT NULL) = $2) ORDER BY username`,
      [q.role ?? null, q.disabled ?? null],
    );
    return res.rows.map(toUserView);
  }

  /** By id or username; 404 otherwise. */
  async find(idOrName: string): Promise<UserRow> {
    const res = UUID_RE.test(idOrName)
      ? await this.pg.query<UserRow>('SELECT * FROM users WHERE id = $1', [idOrName])
      : await this.pg.query<UserRow>('SELECT * FROM users WHERE username = $1', [idOrName]);
    const row = res.rows[0];
    if (!row) throw new AppError('NOT_FOUND', `no user with id or username "${idOrName}"`);
    return row;
  }

  /** For sign-in: by username or e-mail, case-insensitively. */
  async findForLogin(login: string): Promise<UserRow | undefined> {
    const res = await this.pg.query<UserRow>(
      'SELECT * FROM users WHERE lower(username) = lower($1) OR lower(email) = lower($1) ORDER BY username = $1 DESC LIMIT 1',
      [login],
    );
    return res.rows[0];
  }

  async create(input: UserInput & { username: string; role: Role }): Promise<UserView> {
    checkScopeForRole(input.role, input.regions, input.customers);
    const hash = input.password !== undefined ? await this.hashChecked(input.password, input.username) : null;
    try {
      const res = await this.pg.query<UserRow>(
        `INSERT INTO users (id, username, email, display_name, password_hash, role, regions, customers,
                            disabled_at, password_changed_at, updated_at)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, $6, $7, CASE WHEN $8 THEN now() END,
                 CASE WHEN $4::text IS NOT NULL THEN now() END, now())
         RETURNING *`,
        [
          input.username,
          input.email ?? null,
          input.displayName ?? null,
          hash,
          input.role,
          normalizeList(input.regions),
          normalizeList(input.customers),
          input.disabled === true,
        ],
      );
      return toUserView(res.rows[0] as UserRow);
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'username or email: already used by another user');
      throw err;
    }
  }

  /** Returns the user before and after, for the audit log. */
  /** `keepSessionId`: the session that changed its own password stays signed in. */
  async update(
    idOrName: string,
    input: UserInput,
    opts: { keepSessionId?: string } = {},
  ): Promise<{ before: UserView; after: UserView }> {
    const current = await this.find(idOrName);
    const role = input.role ?? current.role;
    const regions = input.regions !== undefined ? input.regions : current.regions;
    const customers = input.customers !== undefined ? input.customers : current.customers;
    checkScopeForRole(role, regions, customers);
    if (role !== 'admin' || input.disabled === true) await this.keepAnAdmin(current);
    const hash = input.password !== undefined ? await this.hashChecked(input.password, current.username) : undefined;
    try {
      return await withTransaction(this.pg, async (client) => {
        const res = await client.query<UserRow>(
          `UPDATE users SET username = $2, email = $3, display_name = $4, role = $5, regions = $6, customers = $7,
            disabled_at = CASE WHEN $8::boolean IS NULL THEN disabled_at WHEN $8 THEN coalesce(disabled_at, now()) END,
            password_hash = coalesce($9, password_hash),
            password_changed_at = CASE WHEN $9::text IS NOT NULL THEN now() ELSE password_changed_at END,
            updated_at = now()
          WHERE id = $1 RETURNING *`,
          [
            current.id,
            input.username ?? current.username,
            input.email !== undefined ? input.email : current.email,
            input.displayName !== undefined ? input.displayName : current.display_name,
            role,
            normalizeList(regions),
            normalizeList(customers),
            input.disabled ?? null,
            hash ?? null,
          ],
        );
        // A disabled user or a new password ends every session (a stolen one included).
        if (input.disabled === true || hash)
          await client.query('DELETE FROM sessions WHERE user_id = $1 AND id IS DISTINCT FROM $2::uuid', [
            current.id,
            input.disabled === true ? null : (opts.keepSessionId ?? null),
          ]);
        return { before: toUserView(current), after: toUserView(res.rows[0] as UserRow) };
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new AppError('CONFLICT', 'username or email: already used by another user');
      throw err;
    }
  }

  /** Deletes the user; their sessions and API keys go with them (ON DELETE CASCADE). */
  async remove(idOrName: string): Promise<UserView> {
    const current = await this.find(idOrName);
    await this.keepAnAdmin(current);
    await this.pg.query('DELETE FROM users WHERE id = $1', [current.id]);
    return toUserView(current);
  }

  async recordLogin(id: string, newHash?: string): Promise<void> {
    await this.pg.query(
      'UPDATE users SET last_login_at = now(), password_hash = coalesce($2, password_hash) WHERE id = $1',
      [id, newHash ?? null],
    );
  }

  /** 409 when `user` is the last enabled admin: someone must still be able to manage users. */
  private async keepAnAdmin(user: UserRow): Promise<void> {
    if (user.role !== 'admin' || user.disabled_at) return;
    const others = await this.pg.query(
      `SELECT 1 FROM users WHERE role = 'admin' AND disabled_at IS NULL AND id <> $1 LIMIT 1`,
      [user.id],
    );
    if (others.rows.length === 0)
      throw new AppError('CONFLICT', `${user.username} is the last enabled admin; make another admin first`);
  }

  private async hashChecked(password: string, username: string): Promise<string> {
    const problem = checkPasswordStrength(password, username);
    if (problem) throw new AppError('BAD_REQUEST', problem);
    return hashPassword(password, this.scrypt);
  }
}

/** Admins see everything: a scope on an admin would be a false sense of restriction. */
function checkScopeForRole(role: Role, regions?: string[] | null, customers?: string[] | null): void {
  if (role === 'admin' && ((regions ?? null) !== null || (customers ?? null) !== null))
    throw new AppError('BAD_REQUEST', 'regions/customers: an admin cannot be scoped; use role operator or viewer');
}
