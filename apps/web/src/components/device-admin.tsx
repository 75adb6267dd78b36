/**
 * Notes, hardware status, line labels (operators edit, viewers read) and credentials
 * management (operators only; a generated secret is shown once).
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit, device, patchDevice, revokeCredentials, rotateCredentials } from '../api/client.js';
import type { RegistryDevice } from '../api/normalize.js';
import type { Answer } from '../api/types.js';

type Issued = Answer<'/api/devices/{idOrName}/credentials', 'post'>['issuedCredentials'];
const HW = ['OK', 'DEGRADED', 'FAULTY', 'RETIRED'];

export function DeviceAdmin({ id, onSaved }: { id: string; onSaved: () => void }) {
  const [d, setD] = useState<RegistryDevice | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [issued, setIssued] = useState<Issued | null>(null);
  const edit = canEdit();

  useEffect(() => {
    device(id).then(setD, (e: Error) => setMsg(e.message));
  }, [id]);
  if (!d) return msg ? <p class="error">{msg}</p> : null;

  const lines = d.lines;
  const creds = d.credentials;

  async function save(e: Event) {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    try {
      const updated = await patchDevice(id, {
        notes: String(f.get('notes') ?? '') || null,
        hardwareStatus: String(f.get('hardwareStatus')),
        lineLabels: lines.map((l) => String(f.get(`line${l.number}`) ?? l.label)),
      });
      setD(updated);
      setMsg('Saved.');
      onSaved();
    } catch (err) {
      setMsg(`Not saved: ${(err as Error).message}`);
    }
  }

  async function rotate() {
    if (!confirm('Generate new credentials? The device must be re-flashed or re-provisioned with them.')) return;
    try {
      const type = creds?.type ?? 'MQTT_BASIC';
      const body =
        type === 'ACCESS_TOKEN'
          ? { type }
          : { type, clientId: creds?.clientId ?? null, username: creds?.username ?? null, generate: true };
      const r = await rotateCredentials(id, body);
      setIssued(r.issuedCredentials ?? null);
      setD(r);
      setMsg('Credentials rotated; the device’s old session was closed.');
    } catch (err) {
      setMsg(`Not rotated: ${(err as Error).message}`);
    }
  }

  async function revoke() {
    if (!confirm('Revoke credentials? The device will be disconnected and refused.')) return;
    try {
      setD(await revokeCredentials(id));
      setIssued(null);
      setMsg('Credentials revoked.');
    } catch (err) {
      setMsg(`Not revoked: ${(err as Error).message}`);
    }
  }

  return (
    <section class="card" aria-label="Notes and hardware">
      <h2>Notes, hardware and labels</h2>
      {edit ? (
        <form onSubmit={save} class="admin-form" data-testid="device-edit-form">
          <label>
            Hardware status
            <select name="hardwareStatus" defaultValue={d.hardwareStatus}>
              {HW.map((h) => (
                <option key={h}>{h}</option>
              ))}
            </select>
          </label>
          <label class="wide">
            Notes
            <textarea name="notes" rows={3} maxLength={2000} defaultValue={d.notes ?? ''} />
          </label>
          <fieldset class="wide labels">
            <legend>Line labels</legend>
            {lines.map((l) => (
              <label key={l.number}>
                {l.number}
                <input name={`line${l.number}`} defaultValue={l.label} maxLength={40} />
              </label>
            ))}
          </fieldset>
          <button type="submit">Save</button>
        </form>
      ) : (
        <dl class="readonly" data-testid="device-readonly">
          <dt>Hardware status</dt>
          <dd>{d.hardwareStatus}</dd>
          <dt>Notes</dt>
          <dd>{d.notes ?? '—'}</dd>
          <dt>Profile</dt>
          <dd>{d.profile.name}</dd>
        </dl>
      )}
      <h3>Credentials</h3>
      <p class="small">
        {creds
          ? `${creds.type}${creds.clientId ? ` · client id ${creds.clientId}` : ''}${creds.username ? ` · username ${creds.username}` : ''}${creds.identifiersHidden ? ' · client id / username not shown' : ''}${creds.hasPassword ? ' · password set' : ''}`
          : 'No credentials (revoked or never set).'}
      </p>
      {edit && (
        <div class="toolbar" data-testid="credentials-controls">
          <button type="button" onClick={rotate}>
            Rotate credentials
          </button>
          <button type="button" class="danger" onClick={revoke} disabled={!creds}>
            Revoke
          </button>
        </div>
      )}
      {issued && (
        <div class="notice" role="status">
          <b>Copy these now — they are shown once:</b>
          <pre>{JSON.stringify(issued, null, 2)}</pre>
        </div>
      )}
      {msg && (
        <p class="small" role="status">
          {msg}
        </p>
      )}
    </section>
  );
}
