/**
 * On-call groups and escalation policies (admins edit, operators read what lies in their
 * scope): who is told first, and who next while an alert stays unacknowledged.
 */
import { isAdmin, recipients } from '../api/client.js';
import { deleteGroup, deletePolicy, groups, type PolicyRow, policies } from '../api/escalation.js';
import { AdminTable, EditRow, Notice, RowTools, StateBadge } from '../components/admin-table.js';
import { fmtDelay, GroupForm, PolicyForm } from '../components/escalation-forms.js';
import { useAdmin, useList } from '../components/use-resource.js';

export function EscalationPage() {
  const admin = isAdmin();
  const state = useAdmin();
  const { msg, editing, setEditing, reload, done } = state;
  const people = useList(state, recipients);
  const rosters = useList(state, groups);
  const rules = useList(state, policies);

  const nameOf = (id: string, list: { id: string; name: string }[]) => list.find((x) => x.id === id)?.name ?? id;
  const tierText = (t: PolicyRow['tiers'][number]) =>
    `${t.tier}${t.delaySec ? ` (+${fmtDelay(t.delaySec)})` : ''}: ${[
      ...t.recipientIds.map((id) => nameOf(id, people)),
      ...t.groupIds.map((id) => `${nameOf(id, rosters)} (group)`),
    ].join(', ')}`;
  const tools = (id: string, what: string, name: string, run: () => Promise<unknown>) =>
    admin && (
      <RowTools
        onEdit={() => setEditing(id)}
        onDelete={() => state.remove(`Delete ${what} ${name}?`, run, `Deleted ${what} ${name}.`)}
      />
    );
  const saved = (m: string) => done(m);

  return (
    <div>
      <h1>On-call and escalation</h1>
      <p class="muted">
        A policy tells tier 1 with the alert, then each next tier after its wait while nobody has acknowledged the
        alert. Subscriptions on the Recipients page still apply.
      </p>
      <Notice msg={msg} testId="escalation-msg" />
      <section class="card" aria-label="Escalation policies">
        <h2>Escalation policies</h2>
        <AdminTable testId="policies-table" cols={['Name', 'For', 'Severities', 'Tiers', 'State']} tools={admin}>
          {rules.map((p) =>
            editing === p.id ? (
              <EditRow key={p.id} span={6}>
                <PolicyForm p={p} people={people} rosters={rosters} onSaved={saved} />
              </EditRow>
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
                  <StateBadge on={p.enabled} onText="● on" offText="⊘ off" />
                </td>
                {tools(p.id, 'policy', p.name, () => deletePolicy(p.id))}
              </tr>
            ),
          )}
        </AdminTable>
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
        <AdminTable testId="groups-table" cols={['Name', 'Members']} tools={admin}>
          {rosters.map((g) =>
            editing === g.id ? (
              <EditRow key={g.id} span={3}>
                <GroupForm g={g} people={people} onSaved={saved} />
              </EditRow>
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
        </AdminTable>
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
