/**
 * The device page's firmware section: what the device reports running, its target (its own
 * assignment or its profile's), the update state and error it last reported; operators
 * assign firmware to the device or clear its own assignment (it then follows its profile).
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit, device, patchDevice } from '../api/client.js';
import { type FirmwareRow, firmwareList } from '../api/firmware.js';
import type { RegistryDevice } from '../api/normalize.js';
import { fmtTime } from '../format.js';

type Fw = RegistryDevice['firmware'];
const name = (x: { title: string | null; version: string | null } | null) =>
  x ? [x.title, x.version].filter(Boolean).join(' ') || '—' : '—';

export function DeviceFirmware({ id, refreshKey }: { id: string; refreshKey: number }) {
  const edit = canEdit();
  const [fw, setFw] = useState<Fw | null>(null);
  const [list, setList] = useState<FirmwareRow[]>([]);
  const [choice, setChoice] = useState('');
  const [msg, setMsg] = useState<string | null>(null);

  useEffect(() => {
    device(id).then(
      (d) => setFw(d.firmware),
      (e: Error) => setMsg(e.message),
    );
  }, [id, refreshKey]);
  useEffect(() => {
    if (edit) firmwareList().then(setList, (e: Error) => setMsg(e.message));
  }, [edit]);

  async function assign(firmwareId: string | null) {
    try {
      const d = await patchDevice(id, { firmwareId });
      setFw(d.firmware);
      const t = d.firmware.target;
      setMsg(
        firmwareId
          ? `Assigned ${name(t)}: the device gets it now if connected, else when it next connects.`
          : `Cleared: the device follows its profile (${t ? name(t) : 'no firmware'}).`,
      );
    } catch (err) {
      setMsg(`Not changed: ${(err as Error).message}`);
    }
  }

  if (!fw) return msg ? <p class="error">{msg}</p> : null;
  const upToDate = fw.target && fw.current?.title === fw.target.title && fw.current?.version === fw.target.version;
  return (
    <section class="card" aria-label="Firmware" data-testid="device-firmware">
      <h2>Firmware</h2>
      <dl class="readonly">
        <dt>Running</dt>
        <dd data-testid="fw-current">{name(fw.current)}</dd>
        <dt>Target</dt>
        <dd data-testid="fw-target">
          {fw.target ? name(fw.target) : 'none'}
          {fw.targetFrom && (
            <span class="muted small"> · from the {fw.targetFrom === 'device' ? 'device' : 'profile'}</span>
          )}
          {upToDate && <span class="badge ok"> up to date</span>}
        </dd>
        <dt>Update state</dt>
        <dd data-testid="fw-state">
          {fw.state ?? '—'}
          {fw.stateAt && <span class="muted small"> · {fmtTime(Date.parse(fw.stateAt))}</span>}
        </dd>
        {fw.error && (
          <>
            <dt>Error</dt>
            <dd class="error">{fw.error}</dd>
          </>
        )}
      </dl>
      {edit && (
        <div class="toolbar" data-testid="fw-controls">
          <label>
            Assign{' '}
            <select value={choice} onChange={(e) => setChoice((e.currentTarget as HTMLSelectElement).value)}>
              <option value="">Choose firmware…</option>
              {list.map((f) => (
                <option key={f.id} value={f.id}>
                  {f.title} {f.version}
                </option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!choice} onClick={() => void assign(choice)}>
            Assign firmware
          </button>
          <button
            type="button"
            class="ghost"
            disabled={fw.targetFrom !== 'device'}
            title="Remove the device's own assignment (it then follows its profile)"
            onClick={() => void assign(null)}
          >
            Clear device assignment
          </button>
        </div>
      )}
      {msg && (
        <p class="small" role="status" data-testid="fw-msg">
          {msg}
        </p>
      )}
    </section>
  );
}
