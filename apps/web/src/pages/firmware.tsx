/**
 * Firmware images: the list with where each is assigned (everyone), upload and delete
 * (admins), image download (operators and admins: the API refuses viewers). The checksum is
 * verified by the API on upload; left empty, the page computes it (SHA*, CRC32).
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit, isAdmin } from '../api/client.js';
import {
  ALGORITHMS,
  deleteFirmware,
  downloadFirmware,
  type FirmwareDetail,
  type FirmwareRow,
  firmwareDetail,
  firmwareList,
  uploadFirmware,
} from '../api/firmware.js';
import { canCompute, checksumOf } from '../checksum.js';
import { AdminTable, Notice } from '../components/admin-table.js';
import { Choice, FormButtons } from '../components/form-fields.js';
import { submitted, useAdmin, useList } from '../components/use-resource.js';
import { fmtTime } from '../format.js';

const fmtSize = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;

/** "profile SPMS · 3 devices · target of 40 · 1 active rollout" from GET /api/firmware/{id}. */
export function assignedText(a: FirmwareDetail['assigned']): string {
  const parts = [
    ...a.profiles.map((p) => `profile ${p.name}`),
    a.devices ? `${a.devices} device${a.devices === 1 ? '' : 's'}` : '',
    a.targetDevices ? `target of ${a.targetDevices}` : '',
    a.activeRollouts ? `${a.activeRollouts} active rollout${a.activeRollouts === 1 ? '' : 's'}` : '',
  ].filter(Boolean);
  return parts.join(' · ') || 'not assigned';
}

function UploadForm({ onSaved }: { onSaved: (m: string) => void }) {
  const [algorithm, setAlgorithm] = useState<string>('SHA256');
  const [busy, setBusy] = useState<string | null>(null);
  const auto = canCompute(algorithm);
  const submit = async (e: Event) => {
    const { el, f } = submitted(e);
    const file = f.get('image');
    if (!(file instanceof File) || !file.size) return onSaved('Not uploaded: choose the image file.');
    const title = String(f.get('title') ?? '').trim();
    const version = String(f.get('version') ?? '').trim();
    const description = String(f.get('description') ?? '').trim();
    let checksum = String(f.get('checksum') ?? '').trim();
    try {
      if (!checksum) {
        if (!canCompute(algorithm)) return onSaved(`Not uploaded: enter the ${algorithm} checksum of the image.`);
        setBusy(`Computing the ${algorithm} checksum…`);
        checksum = await checksumOf(file, algorithm);
      }
      setBusy(`Uploading ${fmtSize(file.size)}…`);
      const fw = await uploadFirmware(
        {
          title,
          version,
          checksumAlgorithm: algorithm as FirmwareRow['checksumAlgorithm'],
          checksum,
          ...(description ? { description } : {}),
        },
        file,
      );
      onSaved(`Uploaded ${fw.title} ${fw.version} (${fmtSize(fw.size)}, ${fw.checksumAlgorithm} ${fw.checksum}).`);
      el.reset();
    } catch (err) {
      onSaved(`Not uploaded: ${(err as Error).message}`);
    } finally {
      setBusy(null);
    }
  };
  return (
    <form class="admin-form" onSubmit={submit} data-testid="firmware-upload-form">
      <label>
        Image file
        <input name="image" type="file" required style={{ minWidth: 0, width: '100%' }} />
      </label>
      <label>
        Title
        <input name="title" required maxLength={255} placeholder="spms-esp32" />
      </label>
      <label>
        Version
        <input name="version" required maxLength={255} placeholder="1.4.2" />
      </label>
      <Choice
        label="Checksum algorithm"
        name="checksumAlgorithm"
        options={ALGORITHMS.map((a) => [a, a] as const)}
        value={algorithm}
        onChange={setAlgorithm}
      />
      <label>
        Checksum (hex)
        <input
          name="checksum"
          maxLength={130}
          pattern="(0x)?[0-9a-fA-F]+"
          required={!auto}
          placeholder={auto ? 'empty: computed here' : 'required'}
        />
      </label>
      <label class="wide">
        Description
        <input name="description" maxLength={1000} />
      </label>
      <FormButtons submit="Upload firmware">{busy && <span class="muted small">{busy}</span>}</FormButtons>
    </form>
  );
}

export function FirmwarePage() {
  const admin = isAdmin();
  const operator = canEdit();
  const state = useAdmin();
  const { msg, reload, done } = state;
  const rows = useList(state, firmwareList);
  // Where each image is assigned: one detail read per row (firmware lists are short).
  const [where, setWhere] = useState<Record<string, string>>({});
  useEffect(() => {
    let stale = false;
    Promise.all(rows.map((r) => firmwareDetail(r.id).then((d) => [r.id, assignedText(d.assigned)] as const))).then(
      (pairs) => !stale && setWhere(Object.fromEntries(pairs)),
      state.fail,
    );
    return () => {
      stale = true;
    };
  }, [rows]);

  const remove = (f: FirmwareRow) =>
    state.remove(
      `Delete firmware ${f.title} ${f.version}?`,
      () => deleteFirmware(f.id),
      `Deleted ${f.title} ${f.version}.`,
    );
  const download = (f: FirmwareRow) =>
    downloadFirmware(f).catch((err: Error) => state.setMsg(`Not downloaded: ${err.message}`));

  return (
    <div>
      <h1>Firmware</h1>
      <p class="muted">
        Images devices update to over the air. Assign one to a device on its page, or roll it out over many devices in
        waves on the <a href="/rollouts">Rollouts</a> page.
      </p>
      <Notice msg={msg} testId="firmware-msg" />
      <section class="card" aria-label="Firmware list">
        <AdminTable
          testId="firmware-table"
          cols={['Title', 'Version', 'Size', 'Checksum', 'Uploaded', 'Assigned']}
          tools={operator}
        >
          {rows.map((f) => (
            <tr key={f.id} data-firmware={`${f.title} ${f.version}`}>
              <td>
                <b>{f.title}</b>
                {f.description && <div class="small muted">{f.description}</div>}
              </td>
              <td>{f.version}</td>
              <td class="num">{fmtSize(f.size)}</td>
              <td class="small">
                {f.checksumAlgorithm} <code title={f.checksum}>{f.checksum.slice(0, 12)}…</code>
              </td>
              <td class="small">{fmtTime(Date.parse(f.createdAt))}</td>
              <td class="small" data-testid="firmware-assigned">
                {where[f.id] ?? '…'}
              </td>
              {operator && (
                <td>
                  <div class="toolbar">
                    <button type="button" class="small" onClick={() => void download(f)}>
                      Download
                    </button>
                    {admin && (
                      <button type="button" class="small danger" onClick={() => void remove(f)}>
                        Delete
                      </button>
                    )}
                  </div>
                </td>
              )}
            </tr>
          ))}
        </AdminTable>
        {!rows.length && <p class="muted">No firmware uploaded.</p>}
      </section>
      {admin ? (
        <section class="card" aria-label="Upload firmware">
          <h2>Upload firmware</h2>
          <UploadForm key={`new-${reload}`} onSaved={(m) => done(m)} />
        </section>
      ) : (
        <p class="muted" data-testid="firmware-readonly">
          Read only: admins upload and delete firmware.
        </p>
      )}
    </div>
  );
}
