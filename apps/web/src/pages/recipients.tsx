/** Alert recipients: who gets alert texts and/or e-mails, for what, and when not (operators edit, viewers read). */
import { useEffect, useState } from 'preact/hooks';
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
      <label>
        Alerts by
        <select
          name="channel"
          value={channel}
          onChange={(e) => setChannel((e.currentTarget as HTMLSelectElement).value)}
        >
          {CHANNELS.map(([v, t]) => (
            <option key={v} value={v}>
              {t}
            </option>
          ))}
        </select>
      </label>
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
      <label>
        Receives alerts for
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
          {kind === 'line' || kind === 'device' ? 'Device (name or id)' : kind === 'region' ? 'Region' : 'Customer'}
          <input name="scopeValue" required maxLength={100} defaultValue={r?.scopeValue ?? ''} />
        </label>
      )}
      {kind === 'line' && (
        <label>
          Line
          <input name="scopeLine" type="number" min={1} max={8} required defaultValue={String(r?.scopeLine ?? '')} />
        </label>
      )}
      <fieldset class="wide">
        <legend>Alert kinds</legend>
        {KINDS.map(([v, t]) => (
          <label key={v} class="check">
            <input
              type="checkbox"
              name="kinds"
              value={v}
              defaultChecked={r ? r.kinds.includes(v) : v === 'outage' || v === 'restoration'}
            />{' '}
            {t}
          </label>
        ))}
      </fieldset>
      <label>
        Quiet hours from (optional)
        <input name="quietStart" type="time" defaultValue={r?.quietStart ?? ''} />
      </label>
      <label>
        Quiet hours until
        <input name="quietEnd" type="time" defaultValue={r?.quietEnd ?? ''} />
      </label>
      <label class="check">
        <input type="checkbox" name="enabled" defaultChecked={r?.enabled ?? true} /> Enabled
      </label>
      <div class="wide toolbar">
        <button type="submit">{r ? 'Save recipient' : 'Add recipient'}</button>
        {onCancel && (
          <button type="button" class="ghost" onClick={onCancel}>
            Cancel
          </button>
        )}
      </div>
    </form>
  );
}

export function RecipientsPage() {
  const [rows, setRows] = useState<RecipientRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const edit = canEdit();

  useEffect(() => {
    recipients().then(setRows, (err: Error) => setMsg(err.message));
  }, [reload]);

  const submit = (r?: RecipientRow) => async (e: Event) => {
    e.preventDefault();
    const el = e.currentTarget as HTMLFormElement;
    const body = bodyOf(new FormData(el));
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
      setMsg(`Saved ${saved.name} (${[saved.phone, saved.email].filter(Boolean).join(', ')}).${warn}`);
      if (r) setEditing(null);
      else el.reset();
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`Not saved: ${(err as Error).message}`);
    }
  };

  const remove = async (r: RecipientRow) => {
    if (!confirm(`Delete recipient ${r.name}? They will get no more alerts or reports.`)) return;
    try {
      await deleteRecipient(r.id);
      setMsg(`Deleted ${r.name}.`);
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`Not deleted: ${(err as Error).message}`);
    }
  };

  return (
    <div>
      <h1>Alert recipients</h1>
      {msg && (
        <p class="notice" role="status" data-testid="recipients-msg">
          {msg}
        </p>
      )}
      <section class="card" aria-label="Recipients list">
        <div class="table-wrap">
          <table data-testid="recipients-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Phone</th>
                <th>E-mail</th>
                <th>For</th>
                <th>Kinds</th>
                <th>Quiet hours</th>
                <th>State</th>
                {edit && <th />}
              </tr>
            </thead>
            <tbody>
              {rows.map((r) =>
                editing === r.id ? (
                  <tr key={r.id}>
                    <td colSpan={8}>
                      <RecipientForm r={r} onSubmit={submit(r)} onCancel={() => setEditing(null)} />
                    </td>
                  </tr>
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
                      {r.warnings?.map((w) => (
                        <div key={w} class="small warn" role="note">
                          ⚠ {w}
                        </div>
                      ))}
                    </td>
                    <td class="small">{scopeText(r)}</td>
                    <td class="small">{r.kinds.map((k) => k.replace('_', ' ')).join(', ')}</td>
                    <td class="small">{r.quietStart && r.quietEnd ? `${r.quietStart}–${r.quietEnd}` : '—'}</td>
                    <td>
                      <span class={`badge ${r.enabled ? 'ok' : 'unknown'}`}>
                        {r.enabled ? '● enabled' : '⊘ paused'}
                      </span>
                    </td>
                    {edit && (
                      <td>
                        <div class="toolbar">
                          <button type="button" class="small" onClick={() => setEditing(r.id)}>
                            Edit
                          </button>
                          <button type="button" class="small danger" onClick={() => remove(r)}>
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
