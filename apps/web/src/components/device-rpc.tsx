/**
 * The device page's RPC section: operators call a method on the device, lightweight (the
 * page waits for the answer) or persistent (stored and delivered when the device next
 * connects, with ThingsBoard's expirationTime and retries); everyone reads the device's
 * persistent RPC history with states and answers; operators cancel a QUEUED one. The
 * history is read again every few seconds while an RPC in it can still change.
 */
import { useEffect, useState } from 'preact/hooks';
import { ApiError, canEdit } from '../api/client.js';
import { cancelRpc, isFinal, type RpcRequest, type RpcRow, rpcHistory, sendRpc } from '../api/rpc.js';
import { fmtTime } from '../format.js';
import { AdminTable } from './admin-table.js';
import { submitted } from './use-resource.js';

const POLL_MS = 3000;
const fmt = (iso: string | null) => fmtTime(iso ? Date.parse(iso) : null);
const show = (v: unknown) => (v === null || v === undefined ? '' : JSON.stringify(v));

function requestOf(f: FormData): RpcRequest | string {
  const method = String(f.get('method') ?? '').trim();
  const raw = String(f.get('params') ?? '').trim();
  let params: unknown;
  if (raw) {
    try {
      params = JSON.parse(raw);
    } catch {
      return 'params must be JSON, e.g. {"line": 3} or "reboot"';
    }
  }
  const persistent = f.get('persistent') === 'on';
  const timeout = String(f.get('timeoutMs') ?? '').trim();
  const expires = String(f.get('expiresMin') ?? '').trim();
  const retries = String(f.get('retries') ?? '').trim();
  return {
    method,
    ...(raw ? { params } : {}),
    oneway: f.get('oneway') === 'on',
    ...(timeout ? { timeoutMs: Number(timeout) } : {}),
    ...(persistent ? { persistent } : {}),
    ...(persistent && expires ? { expirationTime: Date.now() + Number(expires) * 60_000 } : {}),
    ...(persistent && retries ? { retries: Number(retries) } : {}),
  };
}

export function DeviceRpc({ id }: { id: string }) {
  const edit = canEdit();
  const [rows, setRows] = useState<RpcRow[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const [persistent, setPersistent] = useState(true);
  const [msg, setMsg] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  // The first page, again on every tick; older pages are appended by "Older".
  useEffect(() => {
    let stale = false;
    rpcHistory(id, null).then(
      (p) => {
        if (stale) return;
        setRows(p.items);
        setNext(p.nextCursor);
      },
      (e: Error) => !stale && setMsg(e.message),
    );
    return () => {
      stale = true;
    };
  }, [id, tick]);
  const changing = rows.some((r) => !isFinal(r));
  useEffect(() => {
    if (!changing) return;
    const t = setTimeout(() => setTick((n) => n + 1), POLL_MS);
    return () => clearTimeout(t);
  }, [changing, tick]);

  const older = () =>
    next &&
    rpcHistory(id, next).then(
      (p) => {
        setRows((r) => [...r, ...p.items]);
        setNext(p.nextCursor);
      },
      (e: Error) => setMsg(e.message),
    );

  async function send(e: Event) {
    const { f } = submitted(e);
    const body = requestOf(f);
    if (typeof body === 'string') return setMsg(`Not sent: ${body}.`);
    setBusy(true);
    setMsg(body.persistent || body.oneway ? 'Sending…' : 'Waiting for the device to answer…');
    try {
      const r = await sendRpc(id, body);
      setMsg(
        r.rpcId
          ? `Stored as ${r.rpcId} (${r.status ?? 'QUEUED'}): delivered when the device is connected.`
          : body.oneway
            ? `Sent (request ${r.requestId}); no answer expected.`
            : `Answer to request ${r.requestId}: ${show(r.response) || '(empty)'}`,
      );
      setTick((n) => n + 1);
    } catch (err) {
      // 504: it was sent (or waited for the device) but no answer came in time.
      setMsg(`${err instanceof ApiError && err.status === 504 ? 'No answer' : 'Not sent'}: ${(err as Error).message}`);
    } finally {
      setBusy(false);
    }
  }

  async function cancel(r: RpcRow) {
    if (!confirm(`Cancel ${r.method} (not yet sent to the device)?`)) return;
    try {
      await cancelRpc(r.id);
      setMsg(`Cancelled ${r.method}.`);
      setTick((n) => n + 1);
    } catch (err) {
      setMsg(`Not cancelled: ${(err as Error).message}`);
    }
  }

  return (
    <section class="card" aria-label="RPC" data-testid="device-rpc">
      <h2>RPC</h2>
      {edit && (
        <form class="admin-form" onSubmit={send} data-testid="rpc-form">
          <label>
            Method
            <input name="method" required maxLength={255} placeholder="getState" />
          </label>
          <label class="wide">
            Params (JSON)
            <textarea name="params" rows={2} placeholder='{"line": 3}' />
          </label>
          <label class="check">
            <input
              type="checkbox"
              name="persistent"
              checked={persistent}
              onChange={(e) => setPersistent((e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            Persistent (kept until the device connects)
          </label>
          <label class="check">
            <input type="checkbox" name="oneway" /> One-way (no answer expected)
          </label>
          <label>
            Timeout per attempt (ms)
            <input name="timeoutMs" type="number" min={100} max={300000} placeholder="10000" />
          </label>
          {persistent && (
            <>
              <label>
                Expires in (minutes)
                <input name="expiresMin" type="number" min={1} step="any" placeholder="1 day" />
              </label>
              <label>
                Retries
                <input name="retries" type="number" min={0} max={10} placeholder="0" />
              </label>
            </>
          )}
          <div class="wide toolbar">
            <button type="submit" disabled={busy}>
              Send RPC
            </button>
          </div>
        </form>
      )}
      {msg && (
        <p class="small" role="status" data-testid="rpc-msg">
          {msg}
        </p>
      )}
      <h3>Persistent RPC history</h3>
      <AdminTable
        testId="rpc-history"
        cols={['Created', 'Method', 'Params', 'State', 'Attempts', 'Answer / error']}
        tools={edit}
      >
        {rows.map((r) => (
          <tr key={r.id} data-rpc={r.id} data-status={r.status}>
            <td class="small">
              {fmt(r.createdAt)}
              {r.createdBy && <div class="muted">by {r.createdBy}</div>}
            </td>
            <td>
              <code>{r.method}</code>
              {r.oneway && <div class="small muted">one-way</div>}
            </td>
            <td class="small">
              <code>{show(r.params)}</code>
            </td>
            <td>
              <span class="badge unknown" data-testid="rpc-status">
                {r.status}
              </span>
              <div class="small muted">
                expires {fmtTime(r.expirationTime)}
                {r.completedAt ? ` · done ${fmt(r.completedAt)}` : ''}
              </div>
            </td>
            <td class="num">
              {r.attempts} of {r.retries + 1}
            </td>
            <td class="small">
              {r.status === 'SUCCESSFUL' ? <code>{show(r.response)}</code> : <span class="error">{r.error ?? ''}</span>}
            </td>
            {edit && (
              <td>
                {r.status === 'QUEUED' && (
                  <button type="button" class="small danger" onClick={() => void cancel(r)}>
                    Cancel
                  </button>
                )}
              </td>
            )}
          </tr>
        ))}
      </AdminTable>
      {!rows.length && <p class="muted small">No persistent RPCs for this device.</p>}
      {next && (
        <button type="button" class="small" onClick={() => void older()}>
          Older
        </button>
      )}
    </section>
  );
}
