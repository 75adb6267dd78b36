/**
 * Report subscriptions: which recipient gets the monthly and/or weekly reliability e-mail,
 * for the whole fleet, a region or a customer (report-schedule/ sends them). The recipient
 * must have an e-mail address (reports go by e-mail whatever the recipient's alert channel).
 * A scoped principal sees only subscriptions inside its scope (a region it holds when its
 * scope does not restrict customers, and the other way round); 'all' is outside every scope.
 */
import type { Queryable } from '@spms/db';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { SqlParams } from '../../core/scope.js';

export type ReportScopeKind = 'all' | 'region' | 'customer';

export interface ReportSubscriptionInput {
  recipientId?: string;
  scopeKind?: ReportScopeKind;
  scopeValue?: string | null;
  monthly?: boolean;
  weekly?: boolean;
  worstSites?: number;
  enabled?: boolean;
}

export interface ReportSubscriptionView {
  id: string;
  recipientId: string;
  recipientName: string;
  email: string | null;
  scopeKind: ReportScopeKind;
  scopeValue: string | null;
  monthly: boolean;
  weekly: boolean;
  worstSites: number;
  enabled: boolean;
  /** Periods already reported, newest first (at most 12). */
  lastPeriods: string[];
  createdAt: string;
  updatedAt: string;
}

const SELECT = `
SELECT s.id::text, s.recipient_id::text, r.name AS recipient_name, r.email, s.scope_kind, s.scope_value, s.monthly, s.weekly,
       s.worst_sites, s.enabled, s.created_at, s.updated_at,
       coalesce((SELECT array_agg(x.period ORDER BY x.period_start DESC) FROM (
                   SELECT d.period, d.period_start FROM report_deliveries d WHERE d.subscription_id = s.id
                    ORDER BY d.period_start DESC LIMIT 12) x), '{}') AS last_periods
  FROM report_subscriptions s JOIN alert_recipients r ON r.id = s.recipient_id`;

type Row = Record<string, unknown> & { created_at: Date; updated_at: Date };
const toView = (r: Row): ReportSubscriptionView => ({
  id: r.id as string,
  recipientId: r.recipient_id as string,
  recipientName: r.recipient_name as string,
  email: r.email as string | null,
  scopeKind: r.scope_kind as ReportScopeKind,
  scopeValue: r.scope_value as string | null,
  monthly: r.monthly as boolean,
  weekly: r.weekly as boolean,
  worstSites: r.worst_sites as number,
  enabled: r.enabled as boolean,
  lastPeriods: r.last_periods as string[],
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** SQL condition: subscription (alias s) inside the scope. */
function visible(scope: Scope | null, p: SqlParams, alias = 's'): string {
  if (!scope) return 'TRUE';
  const parts = ['FALSE'];
  if (scope.regions && !scope.customers)
    parts.push(`(${alias}.scope_kind = 'region' AND ${alias}.scope_value = ANY(${p.add(scope.regions)}::text[]))`);
  if (scope.customers && !scope.regions)
    parts.push(`(${alias}.scope_kind = 'customer' AND ${alias}.scope_value = ANY(${p.add(scope.customers)}::text[]))`);
  return `(${parts.join(' OR ')})`;
}

export class ReportSubscriptionService {
  constructor(private readonly db: Queryable) {}

  inTransaction(tx: Queryable): ReportSubscriptionService {
    return new ReportSubscriptionService(tx);
  }

  async list(scope: Scope | null, recipientId?: string): Promise<ReportSubscriptionView[]> {
    const p = new SqlParams();
    const by = recipientId ? ` AND s.recipient_id::text = ${p.add(recipientId)}` : '';
    const { rows } = await this.db.query<Row>(
      `${SELECT} WHERE ${visible(scope, p)}${by} ORDER BY r.name, s.created_at, s.id`,
      p.values,
    );
    return rows.map(toView);
  }

  async get(scope: Scope | null, id: string): Promise<ReportSubscriptionView> {
    const p = new SqlParams();
    const { rows } = await this.db.query<Row>(
      `${SELECT} WHERE s.id::text = ${p.add(id)} AND ${visible(scope, p)}`,
      p.values,
    );
    if (!rows[0]) throw new AppError('NOT_FOUND', `no report subscription ${id}`);
    return toView(rows[0]);
  }

  async create(scope: Scope | null, input: ReportSubscriptionInput): Promise<ReportSubscriptionView> {
    const v = await this.validate(scope, input as Required<ReportSubscriptionInput>);
    const { rows } = await this.db.query<{ id: string }>(
      `INSERT INTO report_subscriptions (recipient_id, scope_kind, scope_value, monthly, weekly, worst_sites, enabled)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id::text`,
      [v.recipientId, v.scopeKind, v.scopeValue, v.monthly, v.weekly, v.worstSites, v.enabled],
    );
    return this.get(null, rows[0]?.id as string);
  }

  async update(scope: Scope | null, id: string, input: ReportSubscriptionInput): Promise<ReportSubscriptionView> {
    const current = await this.get(scope, id);
    const v = await this.validate(scope, { ...current, ...input } as Required<ReportSubscriptionInput>);
    await this.db.query(
      `UPDATE report_subscriptions SET recipient_id = $2, scope_kind = $3, scope_value = $4, monthly = $5, weekly = $6,
              worst_sites = $7, enabled = $8, updated_at = now() WHERE id = $1`,
      [id, v.recipientId, v.scopeKind, v.scopeValue, v.monthly, v.weekly, v.worstSites, v.enabled],
    );
    return this.get(null, id);
  }

  async remove(scope: Scope | null, id: string): Promise<ReportSubscriptionView> {
    const current = await this.get(scope, id);
    await this.db.query('DELETE FROM report_subscriptions WHERE id = $1', [id]);
    return current;
  }

  private async validate(
    scope: Scope | null,
    v: Required<ReportSubscriptionInput>,
  ): Promise<Required<ReportSubscriptionInput>> {
    const scopeKind = v.scopeKind;
    const scopeValue = scopeKind === 'all' ? null : (v.scopeValue?.trim() ?? null);
    if (scopeKind !== 'all' && !scopeValue)
      throw new AppError('BAD_REQUEST', `scopeValue (the ${scopeKind} name) is required for scopeKind ${scopeKind}`);
    // The name goes into an e-mail subject: no line breaks or other control characters.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: that is what it looks for
    if (scopeValue && /[\u0000-\u001f\u007f]/.test(scopeValue))
      throw new AppError('BAD_REQUEST', 'scopeValue: control characters (line breaks, tabs) are not allowed');
    const monthly = v.monthly ?? true;
    const weekly = v.weekly ?? false;
    if (!monthly && !weekly) throw new AppError('BAD_REQUEST', 'choose monthly, weekly or both (at least one true)');
    const { rows } = await this.db.query<{ email: string | null }>(
      'SELECT email FROM alert_recipients WHERE id::text = $1',
      [v.recipientId],
    );
    if (!rows[0]) throw new AppError('BAD_REQUEST', `recipientId: no recipient ${v.recipientId}`);
    if (!rows[0].email)
      throw new AppError(
        'BAD_REQUEST',
        'recipientId: this recipient has no e-mail address; reports go by e-mail (set the recipient’s email first)',
      );
    if (scope) {
      const p = new SqlParams();
      const cond = visible(scope, p, 'x');
      const probe = await this.db.query(
        `SELECT 1 FROM (SELECT ${p.add(scopeKind)}::text AS scope_kind, ${p.add(scopeValue)}::text AS scope_value) x WHERE ${cond}`,
        p.values,
      );
      if (!probe.rows[0]) throw new AppError('FORBIDDEN', 'this report covers devices outside your scope');
    }
    return {
      ...v,
      scopeKind,
      scopeValue,
      monthly,
      weekly,
      worstSites: v.worstSites ?? 10,
      enabled: v.enabled ?? true,
    };
  }
}
