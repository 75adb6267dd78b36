/**
 * An alert's escalation on the alerts page (GET /api/alerts/{id}): the policy, the next tier
 * and when it is due, why it stopped, and every step. Loaded when opened, again on every
 * refresh of the page while open.
 */
import { useEffect, useState } from 'preact/hooks';
import { type AlertEscalation, alertEscalation } from '../api/report-subscriptions.js';
import { fmtDuration, fmtTime } from '../format.js';

const STOPPED: Record<string, string> = {
  acknowledged: 'stopped: the alert was acknowledged',
  cleared: 'stopped: the condition cleared',
  voided: 'stopped: the alert was voided (late data)',
  exhausted: 'done: every tier was told',
  policy_removed: 'stopped: the policy was deleted or disabled',
};
const OUTCOME: Record<string, string> = {
  notified: '✓ told',
  quiet_hours: '⊘ held back (quiet hours)',
  disabled: '⊘ recipient disabled',
  acknowledged: '■ not told: acknowledged',
  cleared: '■ not told: cleared',
  voided: '■ not told: voided',
  no_targets: '⚠ nobody to tell (empty tier)',
  policy_removed: '■ policy removed',
};

export function AlertEscalationDetails({
  alertId,
  acknowledged,
  reload,
}: {
  alertId: string;
  acknowledged: boolean;
  reload: number;
}) {
  const [open, setOpen] = useState(false);
  const [esc, setEsc] = useState<AlertEscalation | null | undefined>(undefined);
  const [err, setErr] = useState<string | null>(null);
  useEffect(() => {
    if (!open) return;
    let stale = false;
    alertEscalation(alertId).then(
      (e) => {
        if (stale) return;
        setEsc(e);
        setErr(null);
      },
      (e: Error) => !stale && setErr(e.message),
    );
    return () => {
      stale = true;
    };
  }, [open, alertId, reload]);
  return (
    <details
      class="small"
      data-testid="alert-escalation"
      onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}
    >
      <summary>Escalation</summary>
      {err && <p class="error">{err}</p>}
      {open && esc === undefined && !err && <p class="muted">Loading…</p>}
      {esc === null && <p class="muted">No escalation policy matched this alert.</p>}
      {esc && (
        <div>
          <div>
            Policy <b>{esc.policyName}</b>
            {esc.policyId === null ? ' (deleted)' : ''} · started {fmtTime(Date.parse(esc.startedAt))}
          </div>
          <div data-testid="escalation-state">
            {esc.stoppedReason
              ? (STOPPED[esc.stoppedReason] ?? `stopped: ${esc.stoppedReason}`)
              : acknowledged && esc.nextTier !== null
                ? `acknowledged: tier ${esc.nextTier} will not be told`
                : esc.nextTier !== null
                  ? `next: tier ${esc.nextTier}${esc.nextAt ? ` due ${fmtTime(Date.parse(esc.nextAt))} (${dueText(Date.parse(esc.nextAt))})` : ''}`
                  : 'running'}
          </div>
          <ol class="plain" data-testid="escalation-steps">
            {esc.steps.map((s, i) => (
              <li key={i}>
                tier {s.tier} · {s.recipientName ?? '—'} · {OUTCOME[s.outcome] ?? s.outcome} ·{' '}
                {fmtTime(Date.parse(s.at))}
              </li>
            ))}
          </ol>
          {!esc.steps.length && <p class="muted">No tier told yet.</p>}
        </div>
      )}
    </details>
  );
}

const dueText = (at: number) => (at <= Date.now() ? 'due now' : `in ${fmtDuration(at - Date.now())}`);
