/**
 * On-call groups and escalation policies (admins edit, operators read what lies in their
 * scope): who is told first, and who next while an alert stays unacknowledged.
 */
import { useEffect, useState } from 'preact/hooks';
import { isAdmin, type RecipientRow, recipients } from '../api/client.js';
import { deleteGroup, deletePolicy, type GroupRow, groups, type PolicyRow, policies } from '../api/escalation.js';
import { fmtDelay, GroupForm, PolicyForm } from '../components/escalation-forms.js';

export function EscalationPage() {
  const [people, setPeople] = useState<RecipientRow[]>([]);
  const [rosters, setRosters] = useState<GroupRow[]>([]);
  const [rules, setRules] = useState<PolicyRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const admin = isAdmin();

  useEffect(() => {
    const fail = (err: Error) => setMsg(err.message);
    recipients().then(setPeople, fail);
    groups().then(setRosters, fail);
    policies().then(setRules, fail);
  }, [reload]);

  const saved = (m: string) => {
    setMsg(m);
    if (!m.startsWith('Not')) {
      setEditing(null);
      setReload((n) => n + 1);
    }
  };
  const remove = async (what: string, name: string, run: () => Promise<unknown>) => {
    if (!confirm(`Delete ${what} ${name}?`)) return;
    try {
      await run();
      saved(`Deleted ${what} ${name}.`);
    } catch (err) {
      setMsg(`Not deleted: ${(err as Error).message}`);
    }
  };
  const nameOf = (id: string, list: { id: string; name: string }[]) => list.find((x) => x.id === id)?.name ?? id;
  const tierText = (t: PolicyRow['tiers'][number]) =>
    `${t.tier}${t.delaySec ? ` (+${fmtDelay(t.delaySec)})` : ''}: ${[
      ...t.recipientIds.map((id) => nameOf(id, people)),
      ...t.groupIds.map((id) => `${nameOf(id, rosters)} (group)`),
    ].join(', ')}`;
  const tools = (id: string, what: string, name: string, run: () => Promise<unknown>) =>
    admin && (
      <td>
        <div class="toolbar">
          <button type="button" class="small" onClick={() => setEditing(id)}>
            Edit
          </button>
          <button type="button" class="small danger" onClick={() => remove(what, name, run)}>
            Delete
          </button>
        </div>
      </td>
    );

  return (
    <div>
      <h1>On-call and escalation</h1>
      <p class="muted">
        A policy tells tier 1 with the alert, then each next tier after its wait while nobody has acknowledged the
        alert. Subscriptions on the Recipients page still apply.
      </p>
      {msg && (
        <p class="notice" role="status" data-testid="escalation-msg">
          {msg}
        </p>
      )}
      <section class="card" aria-label="Escalation policies">
        <h2>Escalation policies</h2>
        <div class="table-wrap">
          <table data-testid="policies-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>For</th>
                <th>Severities</th>
                <th>Tiers</th>
                <th>State</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {rules.map((p) =>
                editing === p.id ? (
                  <tr key={p.id}>
                    <td colSpan={6}>
                      <PolicyForm p={p} people={people} rosters={rosters} onSaved={saved} />
                    </td>
                  </tr>
                ) : (
                  <tr key={p.id} data-policy={p.name}>
                    <td>
                      <b>{p.name}</b>
                    </td>
                    <td class="small">{p.scopeKind === 'all' ? 'whole fleet' : `${p.scopeKind} ${p.scopeValue}`}</td>
                    <td class="small">{p.severities.length ? p.severities.join(', ') : 'all'}</td>
                    <td class="small">
                      {p.tiers.map((t) => (
                        <div key={t.tier}>{tierText(t)}</div>
                      ))}
                    </td>
                    <td>
                      <span class={`badge ${p.enabled ? 'ok' : 'unknown'}`}>{p.enabled ? '● on' : '⊘ off'}</span>
                    </td>
                    {tools(p.id, 'policy', p.name, () => deletePolicy(p.id))}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
        {!rules.length && <p class="muted">No escalation policies.</p>}
        {admin && (
          <>
            <h3>New policy</h3>
            <PolicyForm key={`new-policy-${reload}`} people={people} rosters={rosters} onSaved={saved} />
          </>
        )}
      </section>
      <section class="card" aria-label="On-call groups">
        <h2>On-call groups</h2>
        <div class="table-wrap">
          <table data-testid="groups-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Members</th>
                {admin && <th />}
              </tr>
            </thead>
            <tbody>
              {rosters.map((g) =>
                editing === g.id ? (
                  <tr key={g.id}>
                    <td colSpan={3}>
                      <GroupForm g={g} people={people} onSaved={saved} />
                    </td>
                  </tr>
                ) : (
                  <tr key={g.id} data-group={g.name}>
                    <td>
                      <b>{g.name}</b>
                      {g.description && <div class="small muted">{g.description}</div>}
                    </td>
                    <td class="small">{g.members.map((m) => m.name).join(', ') || '—'}</td>
                    {tools(g.id, 'group', g.name, () => deleteGroup(g.id))}
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
        {!rosters.length && <p class="muted">No on-call groups.</p>}
        {admin && (
          <>
            <h3>New group</h3>
            <GroupForm people={people} onSaved={saved} />
          </>
        )}
      </section>
      {!admin && <p class="muted">Read only: admins manage groups and policies.</p>}
    </div>
  );
}
