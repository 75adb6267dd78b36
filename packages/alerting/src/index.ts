export {
  type ComposedText,
  type ComposeOptions,
  composeTexts,
  escalationMarker,
  type ItemKind,
  type PendingItem,
} from './compose.js';
export {
  choosePolicy,
  decideStep,
  type EscalationAlertState,
  type EscalationPolicyRule,
  type EscalationProgress,
  type EscalationTierRule,
  type MemberOutcome,
  nextTierAfter,
  type PolicyScopeKind,
  policyMatches,
  type StepDecision,
  type StopReason,
  type TierMember,
  tierOutcomes,
} from './escalation.js';
export { decideFlapping, type FlapDecision, type FlapOptions } from './flapping.js';
export { isQuietTime, parseClock } from './quiet-hours.js';
export { groupKeyOf, matchesRecipient, severityOf } from './subscriptions.js';
export { type CapDecision, capWindowStart, debounceDelayMs, decideCap } from './timing.js';
export {
  type AlertSubject,
  type AlertType,
  NOTIFY_KINDS,
  type NotifyKind,
  type QuietHours,
  type RecipientRule,
  type ScopeKind,
  type Severity,
} from './types.js';
