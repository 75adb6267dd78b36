/** The forms of pages/escalation.tsx: an on-call group, and a policy with its tiers. */
import { useState } from 'preact/hooks';
import { device, type RecipientRow } from '../api/client.js';
import { type GroupRow, type PolicyRow, saveGroup, savePolicy } from '../api/escalation.js';
import { CheckList, EnabledCheck, FormButtons, ScopePicker } from './form-fields.js';
import { submitted } from './use-resource.js';

const SEVERITIES = ['critical', 'major', 'minor', 'warning'];
const SCOPES = [
  ['all', 'Whole fleet'],
  ['region', 'Region'],
  ['customer', 'Customer'],
  ['device', 'Device'],
] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface TierDraft {
  minutes: number;
  recipientIds: string[];
  groupIds: string[];
}

const selected = (e: Event) => [...(e.currentTarget as HTMLSelectElement).selectedOptions].map((o) => o.value);
export const fmtDelay = (sec: number) => (sec % 60 === 0 ? `${sec / 60} min` : `${sec} s`);

export function GroupForm({
  g,
  people,
  onSaved,
}: {
  g?: GroupRow;
  people: RecipientRow[];
  onSaved: (m: string) => void;
}) {
  const submit = async (e: Event) => {
    const { el, f } = submitted(e);
    try {
      const saved = await saveGroup(g?.id ?? null, {
        name: String(f.get('name')).trim(),
        description: String(f.get('description') ?? '').trim() || null,
        memberIds: f.getAll('members').map(String),
      });
      if (!g) el.reset();
      onSaved(`Saved group ${saved.name} (${saved.members.length} members).`);
    } catch (err) {
      onSaved(`Not saved: ${(err as Error).message}`);
    }
  };
  const members = new Set(g?.members.map((m) => m.id));
  return (
    <form class="admin-form" onSubmit={submit} data-testid={g ? 'group-edit-form' : 'group-create-form'}>
      <label>
        Group name
        <input name="name" required maxLength={100} defaultValue={g?.name} />
      </label>
      <label>
        Description (optional)
        <input name="description" maxLength={500} defaultValue={g?.description ?? ''} />
      </label>
      <CheckList
        legend="Members (all are told when a tier names the group)"
        name="members"
        options={people.map((p) => [p.id, p.name] as const)}
        checked={(id) => members.has(id)}
      />
      <FormButtons submit={g ? 'Save group' : 'Add group'} toolbar={false} />
    </form>
  );
}

export function PolicyForm({
  p,
  people,
  rosters,
  onSaved,
}: {
  p?: PolicyRow;
  people: RecipientRow[];
  rosters: GroupRow[];
  onSaved: (m: string) => void;
}) {
  const [kind, setKind] = useState<string>(p?.scopeKind ?? 'all');
  const [tiers, setTiers] = useState<TierDraft[]>(
    p?.tiers.map((t) => ({ minutes: t.delaySec / 60, recipientIds: t.recipientIds, groupIds: t.groupIds })) ?? [
      { minutes: 0, recipientIds: [], groupIds: [] },
    ],
  );
  const setTier = (i: number, patch: Partial<TierDraft>) =>
    setTiers(tiers.map((t, j) => (j === i ? { ...t, ...patch } : t)));
  const submit = async (e: Event) => {
    const { f } = submitted(e);
    try {
      let scopeValue = kind === 'all' ? null : String(f.get('scopeValue') ?? '').trim() || null;
      // Policies name devices by id; people type names (0003_MSAN).
      if (kind === 'device' && scopeValue && !UUID.test(scopeValue)) scopeValue = String((await device(scopeValue)).id);
      const saved = await savePolicy(p?.id ?? null, {
        name: String(f.get('name')).trim(),
        enabled: f.get('enabled') === 'on',
        scopeKind: kind,
        scopeValue,
        severities: f.getAll('severities').map(String),
        tiers: tiers.map((t) => ({
          delaySec: Math.round(t.minutes * 60),
          recipientIds: t.recipientIds,
          groupIds: t.groupIds,
        })),
      });
      onSaved(`Saved policy ${saved.name} (${saved.tiers.length} tiers).`);
    } catch (err) {
      onSaved(`Not saved: ${(err as Error).message}`);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} data-testid={p ? 'policy-edit-form' : 'policy-create-form'}>
      <label>
        Policy name
        <input name="name" required maxLength={100} defaultValue={p?.name} />
      </label>
      <ScopePicker label="For alerts of" scopes={SCOPES} kind={kind} onKind={setKind} value={p?.scopeValue} />
      <CheckList
        legend="Severities (none ticked: every severity)"
        name="severities"
        options={SEVERITIES.map((v) => [v, v] as const)}
        checked={(v) => p?.severities.includes(v)}
      />
      {tiers.map((t, i) => (
        <fieldset class="wide" key={`tier-${i + 1}`} data-testid={`tier-${i + 1}`}>
          <legend>Tier {i + 1}</legend>
          <label>
            {i === 0 ? 'Told after the alert (minutes, usually 0)' : `Told if still unacknowledged after (minutes)`}
            <input
              type="number"
              min={i === 0 ? 0 : 0.05}
              step="any"
              required
              value={t.minutes}
              onInput={(e) => setTier(i, { minutes: Number((e.currentTarget as HTMLInputElement).value) })}
            />
          </label>
          <label>
            Recipients
            <select multiple onChange={(e) => setTier(i, { recipientIds: selected(e) })}>
              {people.map((r) => (
                <option key={r.id} value={r.id} selected={t.recipientIds.includes(r.id)}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Groups
            <select multiple onChange={(e) => setTier(i, { groupIds: selected(e) })}>
              {rosters.map((g) => (
                <option key={g.id} value={g.id} selected={t.groupIds.includes(g.id)}>
                  {g.name}
                </option>
              ))}
            </select>
          </label>
          {tiers.length > 1 && (
            <button type="button" class="small ghost" onClick={() => setTiers(tiers.filter((_, j) => j !== i))}>
              Remove tier {i + 1}
            </button>
          )}
        </fieldset>
      ))}
      <EnabledCheck value={p?.enabled} />
      <FormButtons submit={p ? 'Save policy' : 'Add policy'}>
        {tiers.length < 10 && (
          <button
            type="button"
            class="ghost"
            onClick={() => setTiers([...tiers, { minutes: 15, recipientIds: [], groupIds: [] }])}
          >
            Add tier
          </button>
        )}
      </FormButtons>
    </form>
  );
}
