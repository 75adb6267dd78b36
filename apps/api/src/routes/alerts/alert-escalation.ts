/** An alert's escalation as GET /api/alerts/{id} shows it: where it stands and every step. */
import type { Queryable } from '@spms/db';

export interface AlertEscalationView {
  policyId: string | null;
  policyName: string;
  /** The tier the escalation waits to tell (null once stopped). */
  nextTier: number | null;
  nextAt: string | null;
  /** null while running; acknowledged / cleared / voided / exhausted / policy_removed */
  stoppedReason: string | null;
  startedAt: string;
  steps: { tier: number; recipientId: string | null; recipientName: string | null; outcome: string; at: string }[];
}

/** Null when no policy matched the alert. The caller has checked the alert is in scope. */
export async function getAlertEscalation(db: Queryable, alertId: number): Promise<AlertEscalationView | null> {
  const { rows } = await db.query<{
    policy_id: string | null;
    policy_name: string;
    next_tier: number;
    next_at: Date | null;
    stopped_reason: string | null;
    started_at: Date;
  }>(
    `SELECT policy_id::text, policy_name, next_tier, next_at, stopped_reason, started_at
       FROM alert_escalation_state WHERE alert_id = $1`,
    [alertId],
  );
  const s = rows[0];
  if (!s) return null;
  const steps = await db.query<{
    tier: number;
    recipient_id: string | null;
    recipient_name: string | null;
    outcome: string;
    at: Date;
  }>(
    `SELECT tier, recipient_id::text, recipient_name, outcome, at FROM alert_escalations
      WHERE alert_id = $1 ORDER BY id LIMIT 1000`,
    [alertId],
  );
  return {
    policyId: s.policy_id,
    policyName: s.policy_name,
    nextTier: s.stopped_reason ? null : s.next_tier,
    nextAt: s.stopped_reason ? null : (s.next_at?.toISOString() ?? null),
    stoppedReason: s.stopped_reason,
    startedAt: s.started_at.toISOString(),
    steps: steps.rows.map((r) => ({
      tier: r.tier,
      recipientId: r.recipient_id,
      recipientName: r.recipient_name,
      outcome: r.outcome,
      at: r.at.toISOString(),
    })),
  };
}
