/**
 * Device profiles: each profile's devices, provisioning (strategy, key, whether a secret is
 * set) and assigned firmware (everyone reads). Unscoped operators and admins edit the
 * provisioning settings and the firmware assignment, as the API allows: the secret is
 * write-only (never shown; left empty it is kept).
 */
import { useState } from 'preact/hooks';
import { type FirmwareRow, firmwareList } from '../api/firmware.js';
import {
  canEditProfiles,
  type ProfilePatch,
  type ProfileRow,
  profiles,
  STRATEGIES,
  type Strategy,
  updateProfile,
} from '../api/profiles.js';
import { AdminTable, EditRow, Notice, RowTools, StateBadge } from '../components/admin-table.js';
import { Choice, FormButtons } from '../components/form-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';

const COLS = ['Profile', 'Devices', 'Provisioning', 'Key', 'Secret', 'Firmware'];
const strategyText = (s: Strategy | undefined) => STRATEGIES.find(([v]) => v === (s ?? 'disabled'))?.[1] ?? s;
const fwText = (id: string | null, list: FirmwareRow[]) => {
  if (!id) return 'none';
  const f = list.find((x) => x.id === id);
  return f ? `${f.title} ${f.version}` : id;
};
const text = (f: FormData, name: string) => String(f.get(name) ?? '').trim();

/** The PATCH body: only what the form changed (an empty secret keeps the stored one). */
function changesOf(p: ProfileRow, f: FormData): ProfilePatch {
  const was = p.provisioning;
  const provisioning: NonNullable<ProfilePatch['provisioning']> = {};
  const strategy = text(f, 'strategy') as Strategy;
  if (strategy !== (was?.strategy ?? 'disabled')) provisioning.strategy = strategy;
  const key = text(f, 'key');
  if (key && key !== was?.key) provisioning.key = key;
  const secret = String(f.get('secret') ?? '');
  if (secret) provisioning.secret = secret;
  const region = text(f, 'region') || null;
  if (region !== (was?.region ?? null)) provisioning.region = region;
  const customer = text(f, 'customer') || null;
  if (customer !== (was?.customer ?? null)) provisioning.customer = customer;
  const own = f.get('deviceCredentials') === 'on';
  if (own !== (was?.deviceCredentials ?? true)) provisioning.deviceCredentials = own;
  const body: ProfilePatch = Object.keys(provisioning).length ? { provisioning } : {};
  const firmwareId = text(f, 'firmwareId') || null;
  if (firmwareId !== p.firmwareId) body.firmwareId = firmwareId;
  return body;
}

function ProfileForm({
  p,
  firmware,
  onSaved,
  onCancel,
}: {
  p: ProfileRow;
  firmware: FirmwareRow[];
  onSaved: (m: string) => void;
  onCancel: () => void;
}) {
  const was = p.provisioning;
  const [strategy, setStrategy] = useState<string>(was?.strategy ?? 'disabled');
  const submit = async (e: Event) => {
    const { f } = submitted(e);
    const body = changesOf(p, f);
    if (!Object.keys(body).length) return onSaved(`Nothing changed in ${p.name}.`);
    try {
      const saved = await updateProfile(p.id, body);
      const prov = saved.provisioning;
      onSaved(
        `Saved ${saved.name}: provisioning ${strategyText(prov?.strategy)}${prov?.hasSecret ? ', secret set' : ''}; firmware ${fwText(saved.firmwareId, firmware)}.`,
      );
    } catch (err) {
      onSaved(`Not saved: ${(err as Error).message}`);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} data-testid="profile-edit-form">
      <Choice
        label="Provisioning strategy"
        name="strategy"
        options={STRATEGIES}
        value={strategy}
        onChange={setStrategy}
      />
      <label>
        Provision key
        <input
          name="key"
          minLength={8}
          maxLength={256}
          autocomplete="off"
          defaultValue={was?.key ?? ''}
          required={strategy !== 'disabled' && !was?.key}
        />
      </label>
      <label>
        Provision secret
        <input
          name="secret"
          type="password"
          minLength={16}
          maxLength={256}
          autocomplete="new-password"
          required={strategy !== 'disabled' && !was?.hasSecret}
          placeholder={was?.hasSecret ? 'set: leave empty to keep' : 'not set (16+ characters)'}
        />
      </label>
      <label>
        Region of new devices
        <input name="region" maxLength={128} defaultValue={was?.region ?? ''} />
      </label>
      <label>
        Customer of new devices
        <input name="customer" maxLength={128} defaultValue={was?.customer ?? ''} />
      </label>
      <label class="check">
        <input type="checkbox" name="deviceCredentials" defaultChecked={was?.deviceCredentials ?? true} /> Devices may
        bring their own credentials
      </label>
      <label>
        Firmware
        <select name="firmwareId">
          <option value="" selected={!p.firmwareId}>
            None
          </option>
          {firmware.map((f) => (
            <option key={f.id} value={f.id} selected={p.firmwareId === f.id}>
              {f.title} {f.version}
            </option>
          ))}
          {/* Not in the list read: kept as it is rather than cleared by saving. */}
          {p.firmwareId && !firmware.some((f) => f.id === p.firmwareId) && (
            <option value={p.firmwareId} selected>
              {p.firmwareId}
            </option>
          )}
        </select>
      </label>
      <p class="wide small muted">
        The secret is stored hashed and never shown again: keep it where the firmware build reads it. Assigned firmware
        reaches the profile's devices that have none of their own at once (connected) or when they next connect.
      </p>
      <FormButtons submit="Save profile" onCancel={onCancel} />
    </form>
  );
}

export function ProfilesPage() {
  const edit = canEditProfiles();
  const state = useAdmin();
  const { msg, editing, setEditing, done } = state;
  const rows = useList(state, profiles);
  const firmware = useList(state, firmwareList);

  return (
    <div>
      <h1>Profiles</h1>
      <p class="muted">
        A device profile holds its devices' settings, how new devices provision themselves into it (ThingsBoard's
        provisioning: devices send the key and secret) and the firmware its devices run unless they have their own.
      </p>
      <Notice msg={msg} testId="profiles-msg" />
      <section class="card" aria-label="Profiles list">
        <AdminTable testId="profiles-table" cols={COLS} tools={edit}>
          {rows.map((p) =>
            editing === p.id ? (
              <EditRow key={`edit-${p.id}`} span={COLS.length + 1}>
                <ProfileForm p={p} firmware={firmware} onSaved={(m) => done(m)} onCancel={() => setEditing(null)} />
              </EditRow>
            ) : (
              <tr key={p.id} data-profile={p.name}>
                <td>
                  <b>{p.name}</b>
                  {p.isDefault && (
                    <>
                      {' '}
                      <span class="badge ok">default</span>
                    </>
                  )}
                  {p.description && <div class="small muted">{p.description}</div>}
                </td>
                <td class="num" data-testid="profile-devices">
                  {p.deviceCount}
                </td>
                <td class="small" data-testid="profile-strategy">
                  {strategyText(p.provisioning?.strategy)}
                  {p.provisioning?.region && <div class="muted">region {p.provisioning.region}</div>}
                  {p.provisioning?.customer && <div class="muted">customer {p.provisioning.customer}</div>}
                </td>
                <td class="small" data-testid="profile-key">
                  {p.provisioning?.key ? <code>{p.provisioning.key}</code> : '—'}
                </td>
                <td data-testid="profile-secret">
                  <StateBadge on={!!p.provisioning?.hasSecret} onText="set" offText="not set" />
                </td>
                <td class="small" data-testid="profile-firmware">
                  {fwText(p.firmwareId, firmware)}
                </td>
                {edit && <RowTools onEdit={() => setEditing(p.id)} />}
              </tr>
            ),
          )}
        </AdminTable>
        {!rows.length && <p class="muted">No profiles.</p>}
      </section>
      {!edit && (
        <p class="muted" data-testid="profiles-readonly">
          Read only: operators and admins without a region or customer scope edit profiles.
        </p>
      )}
    </div>
  );
}
