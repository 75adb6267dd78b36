/**
 * Escalation: when an alert is told, the matching policy's tier 1 is told with it (through
 * the same grouping windows, quiet hours and caps as every text), and one delayed job per
 * (alert, next tier) — job id `escalate-<alert>-<tier>` — tells the next tier if the alert is
 * still open and unacknowledged. Where the escalation stands is a row of
 * alert_escalation_state whose next_tier only moves forward, in the transaction that tells a
 * tier: a redelivered job, a second worker or a retry after a crash finds it moved and does
 * nothing. Scheduling happens after COMMIT and is re-derived from that row on every run, so
 * a crash between the two loses no step (the job is retried) and duplicates none (the id).
 */
import {
  type AlertSubject,
  choosePolicy,
  decideStep,
  type EscalationPolicyRule,
  groupKeyOf,
  type ItemKind,
  nextTierAfter,
  type Severity,
  type TierMember,
  tierOutcomes,
} from '@spms/alerting';
import { type EscalateJob, jobId } from '@spms/contracts';
import { type PoolClient, withTransaction } from '@spms/db';
import type { Job } from 'bullmq';
import type { AlertsContext } from './context.js';
import { ensureTimers, recordSuppressed, type WindowRef } from './fan-out.js';

export interface EscalatedAlert {
  id: string;
  kind: 'outage' | 'voltage' | 'device_offline';
  severity: Severity;
  subject: AlertSubject;
}

type Db = AlertsContext['pool'] | PoolClient;

const POLICY_SQL = `
SELECT p.id::text, p.name, p.enabled, p.scope_kind, p.scope_value, p.severities,
       (extract(epoch from p.created_at) * 1000)::float8 AS created_ms,
       coalesce((SELECT json_agg(json_build_object(
                  'tier', t.tier, 'delaySec', t.delay_sec,
                  'recipientIds', (SELECT coalesce(array_agg(x.recipient_id::text ORDER BY x.id), '{}') FROM escalation_tier_targets x
                                    WHERE x.policy_id = t.policy_id AND x.tier = t.tier AND x.recipient_id IS NOT NULL),
                  'groupIds', (SELECT coalesce(array_agg(x.group_id::text ORDER BY x.id), '{}') FROM escalation_tier_targets x
                                WHERE x.policy_id = t.policy_id AND x.tier = t.tier AND x.group_id IS NOT NULL))
                  ORDER BY t.tier) FROM escalation_tiers t WHERE t.policy_id = p.id), '[]') AS tiers
  FROM escalation_policies p WHERE p.enabled`;

interface PolicyRow {
  id: string;
  name: string;
  enabled: boolean;
  scope_kind: EscalationPolicyRule['scopeKind'];
  scope_value: string | null;
  severities: Severity[];
  created_ms: number;
  tiers: EscalationPolicyRule['tiers'];
}

const toPolicy = (r: PolicyRow): EscalationPolicyRule => ({
  id: r.id,
  name: r.name,
  enabled: r.enabled,
  scopeKind: r.scope_kind,
  scopeValue: r.scope_value,
  severities: r.severities,
  tiers: r.tiers,
  createdAt: r.created_ms,
});

// Policies change rarely and a storm asks once per alert (as for recipients): a short-lived
// copy for choosing a policy. A firing timer reads its policy fresh.
const POLICIES_TTL_MS = 2000;
const policyCache = new WeakMap<AlertsContext, { at: number; rows: Promise<EscalationPolicyRule[]> }>();

function policies(ctx: AlertsContext): Promise<EscalationPolicyRule[]> {
  const hit = policyCache.get(ctx);
  if (hit && Date.now() - hit.at < POLICIES_TTL_MS) return hit.rows;
  const rows = ctx.pool.query<PolicyRow>(POLICY_SQL).then((r) => r.rows.map(toPolicy));
  rows.catch(() => policyCache.delete(ctx));
  policyCache.set(ctx, { at: Date.now(), rows });
  return rows;
}

async function policyById(db: Db, id: string | null): Promise<EscalationPolicyRule | null> {
  if (!id) return null;
  const { rows } = await db.query<PolicyRow>(`${POLICY_SQL} AND p.id = $1`, [id]);
  return rows[0] ? toPolicy(rows[0]) : null;
}

/**
 * Inside the transaction that marks the alert told: starts the escalation of the matching
 * policy (once per alert) and tells tier 1 at once when its delay is 0. Returns the windows
 * that received items (for ensureTimers).
 */
export async function startEscalation(
  ctx: AlertsContext,
  client: PoolClient,
  alert: EscalatedAlert,
  now = new Date(),
): Promise<WindowRef[]> {
  const policy = choosePolicy(await policies(ctx), alert.subject, alert.severity);
  const first = policy ? nextTierAfter(policy, 0, now.getTime()) : null;
  if (!policy || !first) return [];
  const { rowCount } = await client.query(
    `INSERT INTO alert_escalation_state (alert_id, policy_id, policy_name, next_tier, next_at)
     VALUES ($1, $2, $3, $4, to_timestamp($5 / 1000.0)) ON CONFLICT (alert_id) DO NOTHING`,
    [alert.id, policy.id, policy.name, first.tier, first.dueAt],
  );
  if (!rowCount || first.dueAt > now.getTime()) return [];
  return runTier(ctx, client, alert.id, first.tier, now);
}

interface StateRow {
  next_tier: number;
  stopped_reason: string | null;
  policy_id: string | null;
  acknowledged: boolean;
  cleared: boolean;
  voided: boolean;
  type: 'outage' | 'voltage' | 'device_offline';
  severity: Severity;
  device_id: string;
  line: number | null;
  region: string | null;
  customer: string | null;
}

// The state row is locked for the decision; the alert row is share-locked so an
// acknowledgement either commits before (and stops this tier) or waits until the tier is told.
const STATE = `
SELECT s.next_tier, s.stopped_reason, s.policy_id::text, a.acknowledged_at IS NOT NULL AS acknowledged,
       a.cleared_at IS NOT NULL AS cleared, a.voided, a.type, a.severity, a.device_id::text, a.line, a.region, a.customer
  FROM alert_escalation_state s JOIN alerts a ON a.id = s.alert_id
 WHERE s.alert_id = $1 FOR UPDATE OF s FOR SHARE OF a`;

/** Tells `tier` of the alert's escalation if it is due and still wanted; records every step. */
async function runTier(
  ctx: AlertsContext,
  client: PoolClient,
  alertId: string,
  tier: number,
  now: Date,
): Promise<WindowRef[]> {
  const { rows } = await client.query<StateRow>(STATE, [alertId]);
  const s = rows[0];
  if (!s) return [];
  const policy = await policyById(client, s.policy_id);
  const decision = decideStep(
    tier,
    { nextTier: s.next_tier, stoppedReason: s.stopped_reason },
    { acknowledged: s.acknowledged, cleared: s.cleared, voided: s.voided },
    policy,
  );
  if (decision.action === 'none') return [];
  if (decision.action === 'stop') {
    await stop(client, alertId, decision.reason);
    // 'exhausted' is not a step: the last tier was told and the policy lost tiers since.
    if (decision.reason !== 'exhausted') await step(client, alertId, tier, null, null, decision.reason);
    return [];
  }
  const subject = { deviceId: s.device_id, line: s.line, region: s.region, customer: s.customer };
  const critical = s.severity === 'critical';
  const { members, groups } = await loadMembers(client, decision.tier);
  const outcomes = tierOutcomes(decision.tier, members, groups, {
    critical,
    now,
    defaultTimeZone: ctx.config.SPMS_TIME_ZONE,
  });
  if (outcomes.length === 0) await step(client, alertId, tier, null, null, 'no_targets');
  const take: string[] = [];
  const kind: ItemKind = s.type;
  for (const { recipient, outcome } of outcomes) {
    await step(client, alertId, tier, recipient.id, recipient.name, outcome);
    if (outcome === 'notified') take.push(recipient.id);
    if (outcome === 'quiet_hours')
      await recordSuppressed(client, recipient.id, recipient.phone ?? '', { alertId, kind }, 'quiet_hours');
  }
  const next = policy ? nextTierAfter(policy, tier, now.getTime()) : null;
  if (next)
    await client.query(
      `UPDATE alert_escalation_state SET next_tier = $2, next_at = to_timestamp($3 / 1000.0), updated_at = now()
        WHERE alert_id = $1`,
      [alertId, next.tier, next.dueAt],
    );
  else await stop(client, alertId, 'exhausted');
  if (take.length === 0) return [];
  const groupKey = groupKeyOf(subject);
  // A recipient already holding this alert in its window (a subscriber) gets it in that text.
  const ins = await client.query<{ recipient_id: string }>(
    `INSERT INTO alert_pending (recipient_id, group_key, alert_id, kind, critical, details)
     SELECT r, $2, $3, $4, $5, $6 FROM unnest($1::uuid[]) AS r
     ON CONFLICT DO NOTHING RETURNING recipient_id::text`,
    [take, groupKey, alertId, kind, critical, JSON.stringify({ escalation: tier })],
  );
  return ins.rows.map((r) => ({ recipientId: r.recipient_id, groupKey }));
}

const stop = (client: PoolClient, alertId: string, reason: string) =>
  client.query(
    `UPDATE alert_escalation_state SET stopped_reason = $2, next_at = NULL, updated_at = now() WHERE alert_id = $1`,
    [alertId, reason],
  );

const step = (
  client: PoolClient,
  alertId: string,
  tier: number,
  recipientId: string | null,
  name: string | null,
  outcome: string,
) =>
  client.query(
    'INSERT INTO alert_escalations (alert_id, tier, recipient_id, recipient_name, outcome) VALUES ($1, $2, $3, $4, $5)',
    [alertId, tier, recipientId, name, outcome],
  );

type Member = TierMember & { phone: string | null };

async function loadMembers(client: PoolClient, tier: EscalationPolicyRule['tiers'][number]) {
  const { rows } = await client.query<{
    id: string;
    name: string;
    phone: string | null;
    enabled: boolean;
    quiet_start: string | null;
    quiet_end: string | null;
    time_zone: string | null;
    group_id: string | null;
  }>(
    `SELECT r.id::text, r.name, r.phone, r.enabled, r.quiet_start, r.quiet_end, r.time_zone, NULL AS group_id
       FROM alert_recipients r WHERE r.id = ANY($1::uuid[])
     UNION ALL
     SELECT r.id::text, r.name, r.phone, r.enabled, r.quiet_start, r.quiet_end, r.time_zone, m.group_id::text
       FROM recipient_group_members m JOIN alert_recipients r ON r.id = m.recipient_id
      WHERE m.group_id = ANY($2::uuid[])
      ORDER BY group_id NULLS FIRST, name, id`,
    [tier.recipientIds, tier.groupIds],
  );
  const members = new Map<string, Member>();
  const groups = new Map<string, string[]>();
  for (const r of rows) {
    members.set(r.id, {
      id: r.id,
      name: r.name,
      phone: r.phone,
      enabled: r.enabled,
      quietHours: r.quiet_start && r.quiet_end ? { start: r.quiet_start, end: r.quiet_end } : null,
      timeZone: r.time_zone,
    });
    if (r.group_id) groups.set(r.group_id, [...(groups.get(r.group_id) ?? []), r.id]);
  }
  return { members, groups };
}

/**
 * After COMMIT (and again on every retry): the job of the tier the escalation waits for.
 * The deterministic id makes a second call, a retry or the start-up sweep add nothing new.
 */
export async function scheduleEscalation(ctx: AlertsContext, alertIds: string[]): Promise<void> {
  if (alertIds.length === 0) return;
  const { rows } = await ctx.pool.query<{ alert_id: string; next_tier: number; due: number }>(
    `SELECT alert_id::text, next_tier, (extract(epoch from next_at) * 1000)::float8 AS due
       FROM alert_escalation_state WHERE alert_id = ANY($1::bigint[]) AND stopped_reason IS NULL AND next_at IS NOT NULL`,
    [alertIds],
  );
  if (rows.length === 0) return;
  const now = Date.now();
  await ctx.timers.addBulk(
    rows.map((r) => ({
      name: 'escalate',
      data: { alertId: r.alert_id, tier: r.next_tier } satisfies EscalateJob,
      opts: { jobId: jobId('escalate', r.alert_id, r.next_tier), delay: Math.max(0, r.due - now) },
    })),
  );
}

export const handleEscalate = (ctx: AlertsContext) => async (job: Job<EscalateJob>) => {
  const { alertId, tier } = job.data;
  const windows = await withTransaction(ctx.pool, (client) => runTier(ctx, client, alertId, tier, new Date()));
  // A retried job whose tier was told finds no windows here: ensureTimers looks them up.
  await ensureTimers(ctx, [alertId], windows.length > 0 ? windows : undefined);
  await scheduleEscalation(ctx, [alertId]);
};

/**
 * Start-up: escalations overdue by more than a minute. A job that is gone is scheduled again
 * (the id makes this a no-op for jobs that still exist); one that failed all its attempts
 * (the database was down for long) is retried. Either way the state row decides what runs.
 */
export async function recoverEscalations(ctx: AlertsContext): Promise<void> {
  const { rows } = await ctx.pool.query<{ alert_id: string; next_tier: number }>(
    `SELECT alert_id::text, next_tier FROM alert_escalation_state
      WHERE stopped_reason IS NULL AND next_at < now() - interval '1 minute' LIMIT 10000`,
  );
  await scheduleEscalation(
    ctx,
    rows.map((r) => r.alert_id),
  );
  for (const r of rows) {
    const job = await ctx.timers.getJob(jobId('escalate', r.alert_id, r.next_tier));
    if (job && (await job.isFailed())) await job.retry();
  }
}
