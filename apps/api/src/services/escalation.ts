/**
 * Recipient groups (on-call rosters) and escalation policies (apps/worker/src/alerts/escalation.ts
 * runs them). Admins write; operators read what lies inside their scope: a policy whose
 * scope (region / customer / device) is inside it, a group whose members all are.
 */
import type { Queryable } from '@spms/db';
import type { Scope } from '../plugins/auth.js';
import { AppError } from '../plugins/errors.js';
import { visible as recipientVisible } from './recipients.js';
import { SqlParams, scopeCondition } from './scope.js';

export type PolicyScopeKind = 'all' | 'region' | 'customer' | 'device';

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

export interface TierInput {
  delaySec: number;
  recipientIds?: string[];
  groupIds?: string[];
}
export interface PolicyInput {
  name?: string;
  enabled?: boolean;
  scopeKind?: PolicyScopeKind;
  scopeValue?: string | null;
  severities?: string[];
  tiers?: TierInput[];
}
export interface PolicyView {
  id: string;
  name: string;
  enabled: boolean;
  scopeKind: PolicyScopeKind;
  scopeValue: string | null;
  severities: string[];
  tiers: { tier: number; delaySec: number; recipientIds: string[]; groupIds: string[] }[];
  createdAt: string;
  updatedAt: string;
}

const isUnique = (err: unknown) => (err as { code?: string }).code === '23505';
const iso = (d: Date) => d.toISOString();

/** SQL condition: the policy (alias p) matches only alerts inside the scope. */
function policyVisible(scope: Scope | null, p: SqlParams): string {
  if (!scope) return 'TRUE';
  const parts = [
    `(p.scope_kind = 'device' AND EXISTS (SELECT 1 FROM devices d WHERE d.id::text = p.scope_value AND ${scopeCondition(scope, 'd', p)}))`,
  ];
  if (scope.regions && !scope.customers)
    parts.push(`(p.scope_kind = 'region' AND p.scope_value = ANY(${p.add(scope.regions)}::text[]))`);
  if (scope.customers && !scope.regions)
    parts.push(`(p.scope_kind = 'customer' AND p.scope_value = ANY(${p.add(scope.customers)}::text[]))`);
  return `(${parts.join(' OR ')})`;
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
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

const POLICY_COLS = `p.id::text, p.name, p.enabled, p.scope_kind, p.scope_value, p.severities, p.created_at, p.updated_at,
  coalesce((SELECT json_agg(json_build_object('tier', t.tier, 'delaySec', t.delay_sec,
     'recipientIds', (SELECT coalesce(array_agg(x.recipient_id::text ORDER BY x.id), '{}') FROM escalation_tier_targets x
                       WHERE x.policy_id = t.policy_id AND x.tier = t.tier AND x.recipient_id IS NOT NULL),
     'groupIds', (SELECT coalesce(array_agg(x.group_id::text ORDER BY x.id), '{}') FROM escalation_tier_targets x
                   WHERE x.policy_id = t.policy_id AND x.tier = t.tier AND x.group_id IS NOT NULL)) ORDER BY t.tier)
     FROM escalation_tiers t WHERE t.policy_id = p.id), '[]') AS tiers`;

type PolicyRow = Omit<PolicyView, 'scopeKind' | 'scopeValue' | 'createdAt' | 'updatedAt'> & {
  scope_kind: PolicyScopeKind;
  scope_value: string | null;
  created_at: Date;
  updated_at: Date;
};
const toPolicy = (r: PolicyRow): PolicyView => ({
  id: r.id,
  name: r.name,
  enabled: r.enabled,
  scopeKind: r.scope_kind,
  scopeValue: r.scope_value,
  severities: r.severities,
  tiers: r.tiers,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export class EscalationService {
  constructor(private readonly db: Queryable) {}

  inTransaction(tx: Queryable): EscalationService {
    return new EscalationService(tx);
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
    const { rows } = await this.named('recipient group', input.name, () =>
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
    await this.named('recipient group', input.name ?? current.name, () =>
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

  async listPolicies(scope: Scope | null): Promise<PolicyView[]> {
    const p = new SqlParams();
    const cond = policyVisible(scope, p);
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${POLICY_COLS} FROM escalation_policies p WHERE ${cond} ORDER BY p.name`,
      p.values,
    );
    return rows.map(toPolicy);
  }

  async getPolicy(scope: Scope | null, id: string): Promise<PolicyView> {
    const p = new SqlParams();
    const where = `p.id::text = ${p.add(id)} AND ${policyVisible(scope, p)}`;
    const { rows } = await this.db.query<PolicyRow>(
      `SELECT ${POLICY_COLS} FROM escalation_policies p WHERE ${where}`,
      p.values,
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no escalation policy ${id}`);
    return toPolicy(rows[0]);
  }

  async createPolicy(scope: Scope | null, input: PolicyInput): Promise<PolicyView> {
    const v = await this.checkPolicy(scope, input);
    const { rows } = await this.named('escalation policy', v.name, () =>
      this.db.query<{ id: string }>(
        `INSERT INTO escalation_policies (name, enabled, scope_kind, scope_value, severities)
         VALUES ($1, $2, $3, $4, $5) RETURNING id::text`,
        [v.name, v.enabled, v.scopeKind, v.scopeValue, v.severities],
      ),
    );
    const id = rows[0]?.id as string;
    await this.setTiers(id, v.tiers);
    return this.getPolicy(null, id);
  }

  async updatePolicy(scope: Scope | null, id: string, input: PolicyInput): Promise<PolicyView> {
    const current = await this.getPolicy(scope, id);
    const v = await this.checkPolicy(scope, { ...current, ...input });
    await this.named('escalation policy', v.name, () =>
      this.db.query(
        `UPDATE escalation_policies SET name = $2, enabled = $3, scope_kind = $4, scope_value = $5, severities = $6,
                updated_at = now() WHERE id = $1`,
        [id, v.name, v.enabled, v.scopeKind, v.scopeValue, v.severities],
      ),
    );
    if (input.tiers) await this.setTiers(id, v.tiers);
    return this.getPolicy(null, id);
  }

  async removePolicy(scope: Scope | null, id: string): Promise<PolicyView> {
    const current = await this.getPolicy(scope, id);
    // Running escalations of it stop at their next tier ('policy_removed').
    await this.db.query('DELETE FROM escalation_policies WHERE id = $1', [id]);
    return current;
  }

  private async named<T>(what: string, name: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (isUnique(err)) throw new AppError('CONFLICT', `a ${what} named ${name} exists: choose another name`);
      throw err;
    }
  }

  private async setMembers(id: string, members: string[]) {
    await this.db.query('DELETE FROM recipient_group_members WHERE group_id = $1', [id]);
    await this.db.query('INSERT INTO recipient_group_members (group_id, recipient_id) SELECT $1, unnest($2::uuid[])', [
      id,
      members,
    ]);
  }

  private async setTiers(id: string, tiers: Required<TierInput>[]) {
    await this.db.query('DELETE FROM escalation_tiers WHERE policy_id = $1', [id]);
    for (const [i, t] of tiers.entries()) {
      await this.db.query('INSERT INTO escalation_tiers (policy_id, tier, delay_sec) VALUES ($1, $2, $3)', [
        id,
        i + 1,
        t.delaySec,
      ]);
      await this.db.query(
        `INSERT INTO escalation_tier_targets (policy_id, tier, recipient_id, group_id)
         SELECT $1::uuid, $2::smallint, r, NULL::uuid FROM unnest($3::uuid[]) AS r
         UNION ALL SELECT $1::uuid, $2::smallint, NULL::uuid, g FROM unnest($4::uuid[]) AS g`,
        [id, i + 1, t.recipientIds, t.groupIds],
      );
    }
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

  private async checkPolicy(scope: Scope | null, v: PolicyInput) {
    const kind = v.scopeKind as PolicyScopeKind;
    const scopeValue = kind === 'all' ? null : (v.scopeValue ?? null);
    if (kind !== 'all' && !scopeValue)
      throw new AppError('BAD_REQUEST', `scopeValue is required for scopeKind ${kind}`);
    if (kind === 'device') {
      const { rows } = await this.db.query('SELECT 1 FROM devices WHERE id::text = $1', [scopeValue]);
      if (!rows[0]) throw new AppError('BAD_REQUEST', `scopeValue: no device ${scopeValue} (give the device's id)`);
    }
    const tiers = (v.tiers ?? []).map((t) => ({
      delaySec: t.delaySec,
      recipientIds: [...new Set(t.recipientIds ?? [])],
      groupIds: [...new Set(t.groupIds ?? [])],
    }));
    for (const [i, t] of tiers.entries()) {
      if (t.recipientIds.length + t.groupIds.length === 0)
        throw new AppError(
          'BAD_REQUEST',
          `tier ${i + 1}: name at least one recipient (recipientIds) or group (groupIds)`,
        );
      if (i > 0 && t.delaySec < 1)
        throw new AppError(
          'BAD_REQUEST',
          `tier ${i + 1}: delaySec must be at least 1 (seconds the alert stays unacknowledged after tier ${i} was told)`,
        );
    }
    const recipients = [...new Set(tiers.flatMap((t) => t.recipientIds))];
    const groups = [...new Set(tiers.flatMap((t) => t.groupIds))];
    const known = await this.db.query<{ id: string }>(
      `SELECT id::text FROM alert_recipients WHERE id = ANY($1::uuid[])
       UNION ALL SELECT id::text FROM recipient_groups WHERE id = ANY($2::uuid[])`,
      [recipients, groups],
    );
    const have = new Set(known.rows.map((r) => r.id));
    for (const [i, t] of tiers.entries()) {
      const r = t.recipientIds.find((id) => !have.has(id));
      if (r) throw new AppError('BAD_REQUEST', `tier ${i + 1}: no recipient ${r}`);
      const g = t.groupIds.find((id) => !have.has(id));
      if (g) throw new AppError('BAD_REQUEST', `tier ${i + 1}: no recipient group ${g}`);
    }
    // A scoped writer may not attach a policy reaching outside its scope.
    if (scope) {
      const p = new SqlParams();
      const k = p.add(kind);
      const sv = p.add(scopeValue);
      const cond = policyVisible(scope, p);
      const probe = await this.db.query(
        `SELECT 1 FROM (SELECT ${k}::text AS scope_kind, ${sv}::text AS scope_value) p WHERE ${cond}`,
        p.values,
      );
      if (!probe.rows[0]) throw new AppError('FORBIDDEN', 'this policy reaches outside your scope');
    }
    return {
      name: v.name as string,
      enabled: v.enabled ?? true,
      scopeKind: kind,
      scopeValue,
      severities: [...new Set(v.severities ?? [])],
      tiers,
    };
  }
}
