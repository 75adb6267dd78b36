/**
 * Recipient groups (on-call rosters: plain membership) that escalation policy tiers name.
 * Admins write; a scoped operator reads a group only when every member lies inside its
 * scope (see recipients.ts for a recipient's scope).
 */
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams } from '../../core/scope.js';
import { visible as recipientVisible } from '../recipients/recipients.js';

export const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === '23505';

/** Runs a write; a duplicate name becomes a 409 that says so. */
export async function uniqueName<T>(what: string, name: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('CONFLICT', `a ${what} named ${name} exists: choose another name`);
    throw err;
  }
}

export interface GroupInput {
  name?: string;
  description?: string | null;
  memberIds?: string[];
}
export interface GroupView {
  id: string;
  name: string;
  description: string | null;
  members: { id: string; name: string }[];
  createdAt: string;
  updatedAt: string;
}

/** SQL condition: the group (alias g) has members and every one is inside the scope. */
function groupVisible(scope: Scope | null, p: SqlParams): string {
  if (!scope) return 'TRUE';
  return `(EXISTS (SELECT 1 FROM recipient_group_members m WHERE m.group_id = g.id)
    AND NOT EXISTS (SELECT 1 FROM recipient_group_members m JOIN alert_recipients r ON r.id = m.recipient_id
                     WHERE m.group_id = g.id AND NOT ${recipientVisible(scope, p)}))`;
}

const GROUP_COLS = `g.id::text, g.name, g.description, g.created_at, g.updated_at,
  coalesce((SELECT json_agg(json_build_object('id', r.id, 'name', r.name) ORDER BY r.name, r.id)
              FROM recipient_group_members m JOIN alert_recipients r ON r.id = m.recipient_id WHERE m.group_id = g.id), '[]') AS members`;

type GroupRow = {
  id: string;
  name: string;
  description: string | null;
  created_at: Date;
  updated_at: Date;
  members: { id: string; name: string }[];
};
const toGroup = (r: GroupRow): GroupView => ({
  id: r.id,
  name: r.name,
  description: r.description,
  members: r.members,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export class RecipientGroupService {
  constructor(private readonly db: Queryable) {}

  inTransaction(tx: Queryable): RecipientGroupService {
    return new RecipientGroupService(tx);
  }

  async listGroups(scope: Scope | null): Promise<GroupView[]> {
    const p = new SqlParams();
    const cond = groupVisible(scope, p);
    const { rows } = await this.db.query<GroupRow>(
      `SELECT ${GROUP_COLS} FROM recipient_groups g WHERE ${cond} ORDER BY g.name`,
      p.values,
    );
    return rows.map(toGroup);
  }

  async getGroup(scope: Scope | null, id: string): Promise<GroupView> {
    const p = new SqlParams();
    const where = `g.id::text = ${p.add(id)} AND ${groupVisible(scope, p)}`;
    const { rows } = await this.db.query<GroupRow>(
      `SELECT ${GROUP_COLS} FROM recipient_groups g WHERE ${where}`,
      p.values,
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no recipient group ${id}`);
    return toGroup(rows[0]);
  }

  async createGroup(scope: Scope | null, input: Required<Pick<GroupInput, 'name'>> & GroupInput): Promise<GroupView> {
    const members = await this.checkMembers(scope, input.memberIds ?? []);
    const { rows } = await uniqueName('recipient group', input.name, () =>
      this.db.query<{ id: string }>(
        'INSERT INTO recipient_groups (name, description) VALUES ($1, $2) RETURNING id::text',
        [input.name, input.description ?? null],
      ),
    );
    const id = rows[0]?.id as string;
    await this.setMembers(id, members);
    return this.getGroup(null, id);
  }

  async updateGroup(scope: Scope | null, id: string, input: GroupInput): Promise<GroupView> {
    const current = await this.getGroup(scope, id);
    const members = input.memberIds ? await this.checkMembers(scope, input.memberIds) : undefined;
    await uniqueName('recipient group', input.name ?? current.name, () =>
      this.db.query('UPDATE recipient_groups SET name = $2, description = $3, updated_at = now() WHERE id = $1', [
        id,
        input.name ?? current.name,
        input.description === undefined ? current.description : input.description,
      ]),
    );
    if (members) await this.setMembers(id, members);
    return this.getGroup(null, id);
  }

  async removeGroup(scope: Scope | null, id: string): Promise<GroupView> {
    const current = await this.getGroup(scope, id);
    const { rows } = await this.db.query<{ name: string; tier: number }>(
      `SELECT p.name, x.tier FROM escalation_tier_targets x JOIN escalation_policies p ON p.id = x.policy_id
        WHERE x.group_id = $1 ORDER BY p.name, x.tier LIMIT 1`,
      [id],
    );
    if (rows[0])
      throw new AppError(
        'CONFLICT',
        `group ${current.name} is a target of policy ${rows[0].name} (tier ${rows[0].tier}): remove it there first`,
      );
    await this.db.query('DELETE FROM recipient_groups WHERE id = $1', [id]);
    return current;
  }

  private async setMembers(id: string, members: string[]) {
    await this.db.query('DELETE FROM recipient_group_members WHERE group_id = $1', [id]);
    await this.db.query('INSERT INTO recipient_group_members (group_id, recipient_id) SELECT $1, unnest($2::uuid[])', [
      id,
      members,
    ]);
  }

  /** Members exist, and a scoped writer may only gather recipients inside its scope. */
  private async checkMembers(scope: Scope | null, ids: string[]): Promise<string[]> {
    const p = new SqlParams();
    const list = p.add(ids);
    const { rows } = await this.db.query<{ id: string; visible: boolean }>(
      `SELECT r.id::text, ${recipientVisible(scope, p)} AS visible FROM alert_recipients r WHERE r.id = ANY(${list}::uuid[])`,
      p.values,
    );
    const found = new Map(rows.map((r) => [r.id, r.visible]));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length) throw new AppError('BAD_REQUEST', `memberIds: no recipient ${missing.join(', ')}`);
    if (rows.some((r) => !r.visible)) throw new AppError('FORBIDDEN', 'a member is a recipient outside your scope');
    return ids;
  }
}
