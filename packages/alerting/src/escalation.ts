/**
 * Escalation policies, decided without I/O: which policy an alert follows, what a tier's
 * timer does when it fires, when the next tier is due, and who in a tier is told.
 *
 * Model (easier to reason about than a chain of rules): one policy per alert — the most
 * specific enabled match (device > customer > region > all, then the oldest). Tier n is told
 * `delaySec` after tier n-1 was (tier 1: after the alert itself was told, normally 0), as
 * long as the alert is still open and unacknowledged. Acknowledging or clearing stops it.
 */
import { isQuietTime } from './quiet-hours.js';
import type { AlertSubject, QuietHours, Severity } from './types.js';

export type PolicyScopeKind = 'all' | 'region' | 'customer' | 'device';

export interface EscalationTierRule {
  tier: number;
  delaySec: number;
  recipientIds: string[];
  groupIds: string[];
}

export interface EscalationPolicyRule {
  id: string;
  name: string;
  enabled: boolean;
  scopeKind: PolicyScopeKind;
  /** region / customer name, or device id; null for 'all'. */
  scopeValue: string | null;
  /** Empty: every severity. */
  severities: Severity[];
  /** Tier numbers 1..n in order. */
  tiers: EscalationTierRule[];
  /** Tie-break between equally specific policies (epoch ms). */
  createdAt: number;
}

const SPECIFICITY: Record<PolicyScopeKind, number> = { device: 3, customer: 2, region: 1, all: 0 };

export function policyMatches(p: EscalationPolicyRule, subject: AlertSubject, severity: Severity): boolean {
  if (!p.enabled || p.tiers.length === 0) return false;
  if (p.severities.length > 0 && !p.severities.includes(severity)) return false;
  switch (p.scopeKind) {
    case 'all':
      return true;
    case 'region':
      return subject.region !== null && subject.region === p.scopeValue;
    case 'customer':
      return subject.customer !== null && subject.customer === p.scopeValue;
    case 'device':
      return subject.deviceId === p.scopeValue;
  }
}

/** The one policy an alert follows, or null. */
export function choosePolicy(
  policies: readonly EscalationPolicyRule[],
  subject: AlertSubject,
  severity: Severity,
): EscalationPolicyRule | null {
  let best: EscalationPolicyRule | null = null;
  for (const p of policies) {
    if (!policyMatches(p, subject, severity)) continue;
    if (
      !best ||
      SPECIFICITY[p.scopeKind] > SPECIFICITY[best.scopeKind] ||
      (SPECIFICITY[p.scopeKind] === SPECIFICITY[best.scopeKind] &&
        (p.createdAt < best.createdAt || (p.createdAt === best.createdAt && p.id < best.id)))
    )
      best = p;
  }
  return best;
}

export interface EscalationAlertState {
  acknowledged: boolean;
  cleared: boolean;
  voided: boolean;
}

export interface EscalationProgress {
  /** The tier the escalation is waiting to tell. */
  nextTier: number;
  /** Null while running. */
  stoppedReason: string | null;
}

export type StopReason = 'acknowledged' | 'cleared' | 'voided' | 'exhausted' | 'policy_removed';

export type StepDecision =
  /** A redelivered or stale timer: the escalation already moved on (or stopped). Do nothing. */
  | { action: 'none' }
  /** Record why and stop: nobody else is told. */
  | { action: 'stop'; reason: StopReason }
  | { action: 'notify'; tier: EscalationTierRule };

/**
 * What the timer of `tier` does when it fires. Stopping wins over telling: an alert
 * acknowledged a moment before the timer is never escalated further.
 */
export function decideStep(
  tier: number,
  progress: EscalationProgress,
  alert: EscalationAlertState,
  policy: EscalationPolicyRule | null,
): StepDecision {
  if (progress.stoppedReason !== null || progress.nextTier !== tier) return { action: 'none' };
  if (alert.voided) return { action: 'stop', reason: 'voided' };
  if (alert.cleared) return { action: 'stop', reason: 'cleared' };
  if (alert.acknowledged) return { action: 'stop', reason: 'acknowledged' };
  if (!policy) return { action: 'stop', reason: 'policy_removed' };
  const t = policy.tiers.find((x) => x.tier === tier);
  if (!t) return { action: 'stop', reason: 'exhausted' };
  return { action: 'notify', tier: t };
}

/** The tier after `tier` and when it is due, or null when `tier` was the last. */
export function nextTierAfter(
  policy: EscalationPolicyRule,
  tier: number,
  toldAt: number,
): { tier: number; dueAt: number } | null {
  const next = policy.tiers.filter((t) => t.tier > tier).sort((a, b) => a.tier - b.tier)[0];
  return next ? { tier: next.tier, dueAt: toldAt + next.delaySec * 1000 } : null;
}

export interface TierMember {
  id: string;
  name: string;
  enabled: boolean;
  quietHours: QuietHours | null;
  timeZone: string | null;
}

export type MemberOutcome = 'notified' | 'quiet_hours' | 'disabled';

/**
 * Who in a tier is told: its recipients, then its groups' members, each once. Quiet hours
 * hold back non-critical alerts (recorded, like any quiet-hours text); critical ones go out.
 */
export function tierOutcomes<M extends TierMember>(
  tier: EscalationTierRule,
  members: ReadonlyMap<string, M>,
  groupMembers: ReadonlyMap<string, readonly string[]>,
  opts: { critical: boolean; now: Date; defaultTimeZone: string },
): { recipient: M; outcome: MemberOutcome }[] {
  const ids = [...tier.recipientIds, ...tier.groupIds.flatMap((g) => groupMembers.get(g) ?? [])];
  const out: { recipient: M; outcome: MemberOutcome }[] = [];
  for (const id of new Set(ids)) {
    const r = members.get(id);
    if (!r) continue; // deleted since the policy was read
    const quiet = !opts.critical && isQuietTime(r.quietHours, opts.now, r.timeZone ?? opts.defaultTimeZone);
    out.push({ recipient: r, outcome: !r.enabled ? 'disabled' : quiet ? 'quiet_hours' : 'notified' });
  }
  return out;
}
