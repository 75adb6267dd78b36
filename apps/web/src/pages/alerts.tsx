/** Alerts: active and recent, acknowledge (operators), SMS delivery status per recipient. */
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  type AlertRow,
  acknowledgeAlert,
  alerts,
  canEdit,
  NotAvailable,
  type NotificationRow,
  notifications,
} from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { AlertEscalationDetails } from '../components/alert-escalation.js';
import { fmtTime } from '../format.js';
import { useLiveEvents } from '../live.js';

// Delivery states as symbols too (colour is never the only signal).
const DELIVERY_ICON: Record<string, string> = {
  delivered: '✓',
  sent: '→',
  accepted: '→',
  queued: '…',
  pending: '…',
  retrying: '↻',
  logged: '✎',
  suppressed: '⊘',
  failed: '✕',
  undelivered: '✕',
};

export function AlertsPage() {
  const [rows, setRows] = useState<AlertRow[]>([]);
  const [sms, setSms] = useState<NotificationRow[]>([]);
  const [msg, setMsg] = useState<string | null>(null);
  const [smsMsg, setSmsMsg] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const last = useRef(0);
  const edit = canEdit();

  useEffect(() => {
    let stale = false;
    alerts({ limit: 200 }).then(
      (p) => {
        if (stale) return;
        setRows(p.items);
        setMsg(null);
      },
      (err: Error) =>
        !stale && setMsg(err instanceof NotAvailable ? 'Alerts are not available from this API yet.' : err.message),
    );
    notifications({ limit: 200 }).then(
      (p) => {
        if (stale) return;
        setSms(p.items);
        setSmsMsg(null);
      },
      (err: Error) =>
        !stale &&
        setSmsMsg(
          err instanceof NotAvailable ? 'SMS delivery status is not available from this API yet.' : err.message,
        ),
    );
    return () => {
      stale = true;
    };
  }, [reload]);

  useLiveEvents((e) => {
    if (!/^(alert|notification|outage|device|poll)/.test(e.type)) return;
    if (Date.now() - last.current < 1000) return;
    last.current = Date.now();
    setReload((n) => n + 1);
  });

  const isActive = (r: AlertRow) => !r.clearedAt;
  const active = rows.filter(isActive);
  const recent = rows.filter((r) => !isActive(r));

  const ack = async (id: string) => {
    try {
      await acknowledgeAlert(id);
      setReload((n) => n + 1);
    } catch (err) {
      setMsg(`Not acknowledged: ${(err as Error).message}`);
    }
  };

  const smsFor = (r: AlertRow) => sms.filter((n) => n.alertIds.includes(r.id));

  const table = (list: AlertRow[], title: string, testid: string) => (
    <section class="card" aria-label={title}>
      <h2>
        {title} ({list.length})
      </h2>
      <table data-testid={testid}>
        <thead>
          <tr>
            <th>Raised</th>
            <th>Device / region</th>
            <th>Alert</th>
            <th>State</th>
            <th>SMS delivery</th>
            <th>Escalation</th>
            {edit && <th />}
          </tr>
        </thead>
        <tbody>
          {list.map((r) => {
            const id = String(r.id);
            const acked = Boolean(r.acknowledgedAt);
            return (
              <tr key={id}>
                <td>{fmtTime(toMs(r.startedAt))}</td>
                <td>
                  {r.deviceName} {r.region ?? ''}
                </td>
                <td>
                  <b>{r.severity}</b> {r.type.replace('_', ' ')}
                  {r.line != null ? ` · line ${r.line} ${r.lineLabel ?? ''}` : ''}
                  {r.held ? ' · held (flapping)' : ''}
                </td>
                <td>
                  <span class={`badge ${acked ? 'unknown' : isActive(r) ? 'down' : 'ok'}`}>
                    {isActive(r) ? (acked ? '✓ acknowledged' : '▲ active') : '● cleared'}
                  </span>
                  {acked && ackedBy(r) && <div class="small">{ackedBy(r)}</div>}
                </td>
                <td class="small">
                  {smsFor(r).map((n, j) => {
                    const st = n.status;
                    return (
                      <div key={j}>
                        {DELIVERY_ICON[st] ?? '?'} {n.recipientName ?? ''} {n.phone ?? ''} — {st}
                      </div>
                    );
                  })}
                </td>
                <td>
                  <AlertEscalationDetails alertId={id} acknowledged={acked} reload={reload} />
                </td>
                {edit && (
                  <td>
                    {isActive(r) && !acked && (
                      <button type="button" class="small" onClick={() => ack(id)}>
                        Acknowledge
                      </button>
                    )}
                  </td>
                )}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );

  return (
    <div>
      <h1>Alerts</h1>
      {msg && <p class="notice">{msg}</p>}
      {!msg && table(active, 'Active alerts', 'alerts-active')}
      {!msg && table(recent, 'Recent alerts', 'alerts-recent')}
      <section class="card" aria-label="SMS">
        <h2>Recent SMS</h2>
        {smsMsg && <p class="notice">{smsMsg}</p>}
        <ul class="plain small">
          {sms.slice(0, 50).map((n) => (
            <li key={n.id}>
              {fmtTime(toMs(n.createdAt))} · {n.recipientName ?? ''} {n.phone ?? ''} · {DELIVERY_ICON[n.status] ?? '?'}{' '}
              {n.status} · {n.body ?? ''}
            </li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/**
 * How and when it was acknowledged: "by SMS from +94…" for a reply (acknowledgedBy
 * 'sms:<phone>'), "on the dashboard by <user id>" otherwise ('' when nobody is recorded).
 */
function ackedBy(r: AlertRow): string {
  const by = r.acknowledgedBy ?? '';
  const at = toMs(r.acknowledgedAt);
  const when = at ? ` · ${fmtTime(at)}` : '';
  if (by.startsWith('sms:') || r.acknowledgedVia === 'sms') return `by SMS from ${by.replace(/^sms:/, '')}${when}`;
  // The API records the user's id (or 'env:…' / the key's id), not a name.
  return by ? `on the dashboard by ${by}${when}` : '';
}
