/**
 * Escalation policies (apps/alerts/src/escalation.ts runs them): scope, severities
 * and ordered tiers of recipients and/or groups. Admins write; a scoped operator reads a
 * policy whose scope (region / customer / device) lies inside its own.
 */
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import { uniqueName } from './recipient-groups.js';

export type PolicyScopeKind = 'all' | 'region' | 'customer' | 'device';

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
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export class EscalationPolicyService {
  constructor(private readonly db: Queryable) {}

  inTransaction(tx: Queryable): EscalationPolicyService {
    return new EscalationPolicyService(tx);
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
    const { rows } = await uniqueName('escalation policy', v.name, () =>
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
    await uniqueName('escalation policy', v.name, () =>
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
