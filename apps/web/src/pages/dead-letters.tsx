/**
 * Dead letters: device messages the worker refused (device, reason, receive time, the raw
 * message). Operators replay one (the API re-validates it with the current rules) or discard
 * it; viewers read.
 */
import { useEffect, useState } from 'preact/hooks';
import { canEdit, type DeadLetterRow, deadLetters, discardDeadLetter, replayDeadLetter } from '../api/client.js';
import { AdminTable, Notice } from '../components/admin-table.js';
import { useAdmin } from '../components/use-resource.js';
import { fmtTime } from '../format.js';

const STATUS_BADGE: Record<DeadLetterRow['status'], { text: string; cls: string }> = {
  open: { text: '▲ open', cls: 'down' },
  replayed: { text: '✓ replayed', cls: 'ok' },
  discarded: { text: '⊘ discarded', cls: 'unknown' },
};

export function DeadLettersPage() {
  const [rows, setRows] = useState<DeadLetterRow[]>([]);
  const [total, setTotal] = useState(0);
  const [status, setStatus] = useState<'' | DeadLetterRow['status']>('open');
  const [device, setDevice] = useState('');
  const admin = useAdmin();
  const edit = canEdit();

  useEffect(() => {
    let stale = false;
    deadLetters({ status: status || undefined, device: device.trim() || undefined, limit: 200 }).then(
      (p) => {
        if (stale) return;
        setRows(p.items);
        setTotal(p.total);
        admin.setMsg(null);
      },
      (err: Error) => !stale && admin.fail(err),
    );
    return () => {
      stale = true;
    };
  }, [admin.reload, status, device]);

  const act = async (what: 'replay' | 'discard', id: string) => {
    try {
      await (what === 'replay' ? replayDeadLetter(id) : discardDeadLetter(id));
      admin.setMsg(null);
      admin.refresh();
    } catch (err) {
      admin.setMsg(`Not ${what === 'replay' ? 'replayed' : 'discarded'}: ${(err as Error).message}`);
    }
  };

  return (
    <div>
      <h1>Dead letters</h1>
      <p class="muted small">
        Device messages the worker could not record. Replay one once the cause is fixed (it is checked again with the
        current rules), or discard it.
      </p>
      <section class="card filters" aria-label="Filters">
        <label>
          Status{' '}
          <select value={status} onChange={(e) => setStatus((e.target as HTMLSelectElement).value as typeof status)}>
            <option value="open">open</option>
            <option value="replayed">replayed</option>
            <option value="discarded">discarded</option>
            <option value="">all</option>
          </select>
        </label>{' '}
        <label>
          Device <input value={device} onChange={(e) => setDevice((e.target as HTMLInputElement).value)} />
        </label>
      </section>
      <Notice msg={admin.msg} />
      <section class="card" aria-label="Dead letters">
        <h2>
          Dead letters ({rows.length}
          {total > rows.length ? ` of ${total}` : ''})
        </h2>
        <AdminTable testId="dead-letters" cols={['Received', 'Device', 'Reason', 'Message', 'State']} tools={edit}>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{fmtTime(r.receivedAt ? Date.parse(r.receivedAt) : Date.parse(r.failedAt))}</td>
              <td>
                {r.deviceName ? <a href={`/devices/${encodeURIComponent(r.deviceName)}`}>{r.deviceName}</a> : '—'}{' '}
                {r.region ?? ''}
              </td>
              <td class="small">{r.reason}</td>
              <td>
                <details>
                  <summary class="small">{r.messageId ?? 'whole job'}</summary>
                  <pre class="small">{JSON.stringify(r.payload, null, 2)}</pre>
                </details>
              </td>
              <td>
                <span class={`badge ${STATUS_BADGE[r.status].cls}`}>{STATUS_BADGE[r.status].text}</span>
              </td>
              {edit && (
                <td>
                  {r.status !== 'discarded' && r.messageId && (
                    <button type="button" class="small" onClick={() => act('replay', r.id)}>
                      Replay
                    </button>
                  )}{' '}
                  {r.status === 'open' && (
                    <button type="button" class="small ghost" onClick={() => act('discard', r.id)}>
                      Discard
                    </button>
                  )}
                </td>
              )}
            </tr>
          ))}
        </AdminTable>
      </section>
    </div>
  );
}
