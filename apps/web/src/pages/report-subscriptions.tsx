/**
 * Scheduled report e-mails: who gets the monthly and/or weekly reliability report, for the
 * whole fleet, a region or a customer (admins edit; everyone reads what lies in their scope).
 */
import { useEffect, useState } from 'preact/hooks';
import { isAdmin, type RecipientRow, recipients } from '../api/client.js';
import {
  deleteReportSubscription,
  type ReportSubscriptionRow,
  reportSubscriptions,
  saveReportSubscription,
} from '../api/report-subscriptions.js';

const SCOPES = [
  ['all', 'Whole fleet'],
  ['region', 'Region'],
  ['customer', 'Customer'],
] as const;

const scopeText = (s: ReportSubscriptionRow) =>
  s.scopeKind === 'all' ? 'whole fleet' : `${s.scopeKind} ${s.scopeValue}`;
const periodsText = (s: ReportSubscriptionRow) =>
  [s.monthly && 'monthly', s.weekly && 'weekly'].filter(Boolean).join(', ') || '—';
// 'monthly:2026-11' → 'monthly 2026-11'
const sentText = (s: ReportSubscriptionRow) => s.lastPeriods.slice(0, 3).join(', ').replaceAll(':', ' ') || 'none yet';

function bodyOf(f: FormData): Record<string, unknown> {
  const kind = String(f.get('scopeKind'));
  return {
    recipientId: String(f.get('recipientId')),
    scopeKind: kind,
    scopeValue: kind === 'all' ? null : String(f.get('scopeValue') ?? '').trim() || null,
    monthly: f.get('monthly') === 'on',
    weekly: f.get('weekly') === 'on',
    worstSites: Number(f.get('worstSites') ?? 10),
    enabled: f.get('enabled') === 'on',
  };
}

function SubscriptionForm({
  s,
  people,
  onSaved,
  onCancel,
}: {
  s?: ReportSubscriptionRow;
  people: RecipientRow[];
  onSaved: (m: string) => void;
  onCancel?: () => void;
}) {
  const [kind, setKind] = useState<string>(s?.scopeKind ?? 'all');
  const submit = async (e: Event) => {
    e.preventDefault();
    const el = e.currentTarget as HTMLFormElement;
    const body = bodyOf(new FormData(el));
    if (!body.monthly && !body.weekly) return onSaved('Not saved: choose monthly, weekly or both.');
    try {
      const saved = await saveReportSubscription(s?.id ?? null, body);
      const warn = saved.warnings.length ? ` Warning: ${saved.warnings.join(' ')}` : '';
      onSaved(`Saved: ${periodsText(saved)} report of the ${scopeText(saved)} to ${saved.recipientName}.${warn}`);
      if (!s) el.reset();
    } catch (err) {
      onSaved(`Not saved: ${(err as Error).message}`);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} data-testid={s ? 'report-sub-edit-form' : 'report-sub-create-form'}>
      <label>
        Recipient
        <select name="recipientId" required>
          <option value="" disabled selected={!s}>
            Choose…
          </option>
          {people.map((p) => (
            <option key={p.id} value={p.id} disabled={!p.email} selected={s?.recipientId === p.id}>
              {p.name} {p.email ? `<${p.email}>` : '(no e-mail address)'}
            </option>
          ))}
        </select>
      </label>
      <label>
        Report covers
        <select name="scopeKind" value={kind} onChange={(e) => setKind((e.currentTarget as HTMLSelectElement).value)}>
          {SCOPES.map(([v, t]) => (
            <option key={v} value={v}>
              {t}
            </option>
          ))}
        </select>
      </label>
      {kind !== 'all' && (
        <label>
          {kind === 'region' ? 'Region' : 'Customer'}
          <input name="scopeValue" required maxLength={100} defaultValue={s?.scopeValue ?? ''} />
        </label>
      )}
      <label>
        Worst sites listed
        <input name="worstSites" type="number" min={0} max={100} required defaultValue={String(s?.worstSites ?? 10)} />
      </label>
      <fieldset class="wide">
        <legend>Periods</legend>
        <label class="check">
          <input type="checkbox" name="monthly" defaultChecked={s ? s.monthly : true} /> Monthly (the previous month,
          sent on the 1st)
        </label>
        <label class="check">
          <input type="checkbox" name="weekly" defaultChecked={s?.weekly ?? false} /> Weekly (Monday–Sunday, sent on
          Monday)
        </label>
      </fieldset>
      <label class="check">
        <input type="checkbox" name="enabled" defaultChecked={s?.enabled ?? true} /> Enabled
      </label>
      <div class="wide toolbar">
        <button type="submit">{s ? 'Save report e-mail' : 'Add report e-mail'}</button>
        {onCancel && (
          <button type="button" class="ghost" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function ReportSubscriptionsPage() {
  const [rows, setRows] = useState<ReportSubscriptionRow[]>([]);
  const [people, setPeople] = useState<RecipientRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const admin = isAdmin();

  useEffect(() => {
    reportSubscriptions().then(setRows, (err: Error) => setMsg(err.message));
    // Only the forms need the recipients (admins).
    if (admin) recipients().then(setPeople, (err: Error) => setMsg(err.message));
  }, [reload]);

  const saved = (m: string) => {
    setMsg(m);
    if (!m.startsWith('Not')) {
      setEditing(null);
      setReload((n) => n + 1);
    }
  };
  const remove = async (s: ReportSubscriptionRow) => {
    if (!confirm(`Stop the ${periodsText(s)} report of the ${scopeText(s)} to ${s.recipientName}?`)) return;
    try {
      await deleteReportSubscription(s.id);
      saved(`Deleted the report e-mail to ${s.recipientName}.`);
    } catch (err) {
      setMsg(`Not deleted: ${(err as Error).message}`);
    }
  };

  return (
    <div>
      <h1>Report e-mails</h1>
      <p class="muted">
        The reliability report (indices, worst sites, CSV attached) by e-mail after each month and/or week, in the
        dashboard's time zone. Recipients and their e-mail addresses are on the Recipients page.
      </p>
      {msg && (
        <p class="notice" role="status" data-testid="report-subs-msg">
          {msg}
        </p>
      )}
      <section class="card" aria-label="Report e-mails list">
        <div class="table-wrap">
          <table data-testid="report-subs-table">
            <thead>
              <tr>
                <th>Recipient</th>
                <th>Covers</th>
                <th>Periods</th>
                <th>Worst sites</th>
                <th>Last sent</th>
                <th>State</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((s) =>
                editing === s.id ? (
                  <tr key={`edit-${s.id}`}>
                    <td colSpan={7}>
                      <SubscriptionForm s={s} people={people} onSaved={saved} onCancel={() => setEditing(null)} />
                    </td>
                  </tr>
                ) : (
                  <tr key={s.id} data-report-sub={s.recipientName}>
                    <td>
                      <b>{s.recipientName}</b>
                      <div class="small muted">{s.email ?? 'no e-mail address: nothing is sent'}</div>
                      {s.warnings.map((w) => (
                        <div key={w} class="small warn" role="note">
                          ⚠ {w}
                        </div>
                      ))}
                    </td>
                    <td class="small">{scopeText(s)}</td>
                    <td class="small">{periodsText(s)}</td>
                    <td class="small">{s.worstSites}</td>
                    <td class="small">{sentText(s)}</td>
                    <td>
                      <span class={`badge ${s.enabled ? 'ok' : 'unknown'}`}>{s.enabled ? '● on' : '⊘ paused'}</span>
                    </td>
                    {admin && (
                      <td>
                        <div class="toolbar">
                          <button type="button" class="small" onClick={() => setEditing(s.id)}>
                            Edit
                          </button>
                          <button type="button" class="small danger" onClick={() => remove(s)}>
                            Delete
                          </button>
                        </div>
                      </td>
                    )}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
        {!rows.length && <p class="muted">No report e-mails.</p>}
      </section>
      {admin ? (
        <section class="card" aria-label="New report e-mail">
          <h2>New report e-mail</h2>
          <SubscriptionForm key={`new-${reload}`} people={people} onSaved={saved} />
        </section>
      ) : (
        <p class="muted" data-testid="report-subs-readonly">
          Read only: admins manage report e-mails.
        </p>
      )}
    </div>
  );
}
