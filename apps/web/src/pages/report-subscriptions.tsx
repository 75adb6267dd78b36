/**
 * Scheduled report e-mails: who gets the monthly and/or weekly reliability report, for the
 * whole fleet, a region or a customer (admins edit; everyone reads what lies in their scope).
 */
import { useState } from 'preact/hooks';
import { isAdmin, type RecipientRow, recipients } from '../api/client.js';
import {
  deleteReportSubscription,
  type ReportSubscriptionRow,
  reportSubscriptions,
  saveReportSubscription,
} from '../api/report-subscriptions.js';
import { AdminTable, EditRow, Notice, RowTools, StateBadge, Warnings } from '../components/admin-table.js';
import { EnabledCheck, FormButtons, ScopePicker } from '../components/form-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';

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
    const { el, f } = submitted(e);
    const body = bodyOf(f);
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
      <ScopePicker label="Report covers" scopes={SCOPES} kind={kind} onKind={setKind} value={s?.scopeValue} />
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
      <EnabledCheck value={s?.enabled} />
      <FormButtons submit={s ? 'Save report e-mail' : 'Add report e-mail'} onCancel={onCancel} />
    </form>
  );
}

export function ReportSubscriptionsPage() {
  const admin = isAdmin();
  const state = useAdmin();
  const { msg, editing, setEditing, reload, done } = state;
  const rows = useList(state, reportSubscriptions);
  // Only the forms need the recipients (admins).
  const people = useList(state, recipients, admin);

  const remove = (s: ReportSubscriptionRow) =>
    state.remove(
      `Stop the ${periodsText(s)} report of the ${scopeText(s)} to ${s.recipientName}?`,
      () => deleteReportSubscription(s.id),
      `Deleted the report e-mail to ${s.recipientName}.`,
    );

  return (
    <div>
      <h1>Report e-mails</h1>
      <p class="muted">
        The reliability report (indices, worst sites, CSV attached) by e-mail after each month and/or week, in the
        dashboard's time zone. Recipients and their e-mail addresses are on the Recipients page.
      </p>
      <Notice msg={msg} testId="report-subs-msg" />
      <section class="card" aria-label="Report e-mails list">
        <AdminTable
          testId="report-subs-table"
          cols={['Recipient', 'Covers', 'Periods', 'Worst sites', 'Last sent', 'State']}
          tools={admin}
        >
          {rows.map((s) =>
            editing === s.id ? (
              <EditRow key={`edit-${s.id}`} span={7}>
                <SubscriptionForm s={s} people={people} onSaved={(m) => done(m)} onCancel={() => setEditing(null)} />
              </EditRow>
            ) : (
              <tr key={s.id} data-report-sub={s.recipientName}>
                <td>
                  <b>{s.recipientName}</b>
                  <div class="small muted">{s.email ?? 'no e-mail address: nothing is sent'}</div>
                  <Warnings list={s.warnings} />
                </td>
                <td class="small">{scopeText(s)}</td>
                <td class="small">{periodsText(s)}</td>
                <td class="small">{s.worstSites}</td>
                <td class="small">{sentText(s)}</td>
                <td>
                  <StateBadge on={s.enabled} onText="● on" offText="⊘ paused" />
                </td>
                {admin && <RowTools onEdit={() => setEditing(s.id)} onDelete={() => remove(s)} />}
              </tr>
            ),
          )}
        </AdminTable>
        {!rows.length && <p class="muted">No report e-mails.</p>}
      </section>
      {admin ? (
        <section class="card" aria-label="New report e-mail">
          <h2>New report e-mail</h2>
          <SubscriptionForm key={`new-${reload}`} people={people} onSaved={(m) => done(m)} />
        </section>
      ) : (
        <p class="muted" data-testid="report-subs-readonly">
          Read only: admins manage report e-mails.
        </p>
      )}
    </div>
  );
}
