/** Alert recipients: who gets alert texts and/or e-mails, for what, and when not (operators edit, viewers read). */
import { useState } from 'preact/hooks';
import {
  canEdit,
  createRecipient,
  deleteRecipient,
  device,
  type RecipientKind,
  type RecipientRow,
  recipients,
  updateRecipient,
} from '../api/client.js';
import { AdminTable, EditRow, Notice, RowTools, StateBadge, Warnings } from '../components/admin-table.js';
import { CheckList, Choice, EnabledCheck, FormButtons, ScopePicker } from '../components/form-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';

const KINDS: [RecipientKind, string][] = [
  ['outage', 'Outage'],
  ['restoration', 'Restoration'],
  ['device_offline', 'Device offline'],
  ['device_online', 'Device back online'],
  ['voltage', 'Voltage out of range'],
];
const SCOPES = [
  ['all', 'Whole fleet'],
  ['region', 'Region'],
  ['customer', 'Customer'],
  ['device', 'Device'],
  ['line', 'One line of a device'],
] as const;

const CHANNELS = [
  ['sms', 'SMS'],
  ['email', 'E-mail'],
  ['both', 'SMS and e-mail'],
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const scopeText = (r: RecipientRow) =>
  r.scopeKind === 'all'
    ? 'whole fleet'
    : `${r.scopeKind} ${r.scopeValue ?? ''}${r.scopeKind === 'line' && r.scopeLine ? ` · line ${r.scopeLine}` : ''}`;

function bodyOf(f: FormData): Record<string, unknown> {
  const kind = String(f.get('scopeKind'));
  const line = Number(f.get('scopeLine'));
  return {
    name: String(f.get('name')).trim(),
    // Sent as typed: the API normalizes 077…, 77…, +94… and refuses what is not a number.
    phone: String(f.get('phone') ?? '').trim() || null,
    email: String(f.get('email') ?? '').trim() || null,
    channel: String(f.get('channel') ?? 'sms'),
    enabled: f.get('enabled') === 'on',
    scopeKind: kind,
    scopeValue: kind === 'all' ? null : String(f.get('scopeValue') ?? '').trim() || null,
    scopeLine: kind === 'line' && line ? line : null,
    kinds: f.getAll('kinds').map(String),
    quietStart: String(f.get('quietStart') ?? '') || null,
    quietEnd: String(f.get('quietEnd') ?? '') || null,
  };
}

function RecipientForm({
  r,
  onSubmit,
  onCancel,
}: {
  r?: RecipientRow;
  onSubmit: (e: Event) => void;
  onCancel?: () => void;
}) {
  const [kind, setKind] = useState<string>(r?.scopeKind ?? 'all');
  const [channel, setChannel] = useState<string>(r?.channel ?? 'sms');
  return (
    <form class="admin-form" onSubmit={onSubmit} data-testid={r ? 'recipient-edit-form' : 'recipient-create-form'}>
      <label>
        Name
        <input name="name" required maxLength={100} defaultValue={r?.name} />
      </label>
      <Choice label="Alerts by" name="channel" options={CHANNELS} value={channel} onChange={setChannel} />
      <label>
        Phone (077 123 4567 or +94 77 123 4567){channel === 'email' ? ' (optional)' : ''}
        <input
          name="phone"
          type="tel"
          required={channel !== 'email'}
          maxLength={32}
          defaultValue={r?.phone ?? ''}
          autoComplete="off"
        />
      </label>
      <label>
        E-mail (also where scheduled reports go){channel === 'sms' ? ' (optional)' : ''}
        <input
          name="email"
          type="email"
          required={channel !== 'sms'}
          maxLength={254}
          defaultValue={r?.email ?? ''}
          autoComplete="off"
        />
      </label>
      <ScopePicker label="Receives alerts for" scopes={SCOPES} kind={kind} onKind={setKind} value={r?.scopeValue} />
      {kind === 'line' && (
        <label>
          Line
          <input name="scopeLine" type="number" min={1} max={8} required defaultValue={String(r?.scopeLine ?? '')} />
        </label>
      )}
      <CheckList
        legend="Alert kinds"
        name="kinds"
        options={KINDS}
        checked={(v) => (r ? r.kinds.includes(v as RecipientKind) : v === 'outage' || v === 'restoration')}
      />
      <label>
        Quiet hours from (optional)
        <input name="quietStart" type="time" defaultValue={r?.quietStart ?? ''} />
      </label>
      <label>
        Quiet hours until
        <input name="quietEnd" type="time" defaultValue={r?.quietEnd ?? ''} />
      </label>
      <EnabledCheck value={r?.enabled} />
      <FormButtons submit={r ? 'Save recipient' : 'Add recipient'} onCancel={onCancel} />
    </form>
  );
}

export function RecipientsPage() {
  const state = useAdmin();
  const { msg, setMsg, editing, setEditing, done } = state;
  const rows = useList(state, recipients);
  const edit = canEdit();

  const submit = (r?: RecipientRow) => async (e: Event) => {
    const { el, f } = submitted(e);
    const body = bodyOf(f);
    if (!(body.kinds as string[]).length) return setMsg('Choose at least one alert kind.');
    try {
      // The API subscribes devices by id; people type names (0003_MSAN).
      if (
        (body.scopeKind === 'device' || body.scopeKind === 'line') &&
        body.scopeValue &&
        !UUID.test(String(body.scopeValue))
      )
        body.scopeValue = String((await device(String(body.scopeValue))).id);
      const saved = r ? await updateRecipient(r.id, body) : await createRecipient(body);
      const warn = saved.warnings?.length ? ` Warning: ${saved.warnings.join(' ')}` : '';
      if (!r) el.reset();
      done(`Saved ${saved.name} (${[saved.phone, saved.email].filter(Boolean).join(', ')}).${warn}`, !!r);
    } catch (err) {
      setMsg(`Not saved: ${(err as Error).message}`);
    }
  };

  const remove = (r: RecipientRow) =>
    state.remove(
      `Delete recipient ${r.name}? They will get no more alerts or reports.`,
      () => deleteRecipient(r.id),
      `Deleted ${r.name}.`,
      { close: false },
    );

  return (
    <div>
      <h1>Alert recipients</h1>
      <Notice msg={msg} testId="recipients-msg" />
      <section class="card" aria-label="Recipients list">
        <AdminTable
          testId="recipients-table"
          cols={['Name', 'Phone', 'E-mail', 'For', 'Kinds', 'Quiet hours', 'State']}
          tools={edit}
        >
          {rows.map((r) =>
            editing === r.id ? (
              <EditRow key={r.id} span={8}>
                <RecipientForm r={r} onSubmit={submit(r)} onCancel={() => setEditing(null)} />
              </EditRow>
            ) : (
              <tr key={r.id} data-recipient={r.name}>
                <td>
                  <b>{r.name}</b>
                </td>
                <td>
                  {r.phone ?? '—'}
                  {r.channel === 'email' && <span class="small muted"> (not texted)</span>}
                </td>
                <td>
                  {r.email ?? '—'}
                  {r.channel !== 'sms' && <span class="small muted"> (alerts by e-mail)</span>}
                  <Warnings list={r.warnings} />
                </td>
                <td class="small">{scopeText(r)}</td>
                <td class="small">{r.kinds.map((k) => k.replace('_', ' ')).join(', ')}</td>
                <td class="small">{r.quietStart && r.quietEnd ? `${r.quietStart}–${r.quietEnd}` : '—'}</td>
                <td>
                  <StateBadge on={r.enabled} onText="● enabled" offText="⊘ paused" />
                </td>
                {edit && <RowTools onEdit={() => setEditing(r.id)} onDelete={() => remove(r)} />}
              </tr>
            ),
          )}
        </AdminTable>
        {!rows.length && !msg && <p class="muted">No recipients yet.</p>}
      </section>
      {edit ? (
        <section class="card" aria-label="New recipient">
          <h2>New recipient</h2>
          <RecipientForm onSubmit={submit()} />
        </section>
      ) : (
        <p class="muted" data-testid="recipients-readonly">
          Read only: operators and admins manage recipients.
        </p>
      )}
    </div>
  );
}
