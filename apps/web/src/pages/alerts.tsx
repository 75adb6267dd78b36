/** Alerts: active and recent, acknowledge (operators), SMS delivery status per recipient. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { acknowledgeAlert, alerts, canEdit, NotAvailable, notifications } from '../api/client.js';
import { pick, toMs } from '../api/normalize.js';
import { AlertEscalationDetails } from '../components/alert-escalation.js';
import { fmtTime } from '../format.js';
import { useLiveEvents } from '../live.js';

type Row = Record<string, unknown>;
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
  const [rows, setRows] = useState<Row[]>([]);
  const [sms, setSms] = useState<Row[]>([]);
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

  const isActive = (r: Row) =>
    !pick(r, 'clearedAt', 'closedAt', 'resolvedAt') && pick(r, 'status', 'state') !== 'cleared';
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

  const smsFor = (r: Row) => {
    const own = pick(r, 'notifications', 'deliveries', 'recipients');
    if (Array.isArray(own)) return own as Row[];
    const id = pick(r, 'id');
    return sms.filter((n) => pick(n, 'alertId') === id || (Array.isArray(n.alertIds) && n.alertIds.includes(id)));
  };

  const table = (list: Row[], title: string, testid: string) => (
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
          {list.map((r, i) => {
            const id = String(pick(r, 'id') ?? i);
            const acked = Boolean(pick(r, 'acknowledgedAt', 'ackedAt'));
            return (
              <tr key={id}>
                <td>{fmtTime(toMs(pick(r, 'startedAt', 'createdAt')))}</td>
                <td>
                  {String(pick(r, 'deviceName', 'device') ?? '')} {String(pick(r, 'region') ?? '')}
                </td>
                <td>
                  <b>{String(pick(r, 'severity') ?? '')}</b> {String(pick(r, 'type') ?? '').replace('_', ' ')}
                  {r.line != null ? ` · line ${String(r.line)} ${String(r.lineLabel ?? '')}` : ''}
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
                    const st = String(pick(n, 'status', 'deliveryStatus') ?? 'unknown');
                    return (
                      <div key={j}>
                        {DELIVERY_ICON[st] ?? '?'} {String(pick(n, 'recipientName') ?? '')}{' '}
                        {String(pick(n, 'phone', 'recipient', 'to') ?? '')} — {st}
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
          {sms.slice(0, 50).map((n, i) => (
            <li key={String(pick(n, 'id') ?? i)}>
              {fmtTime(toMs(pick(n, 'createdAt', 'sentAt')))} · {String(pick(n, 'recipientName') ?? '')}{' '}
              {String(pick(n, 'phone', 'to') ?? '')} · {DELIVERY_ICON[String(pick(n, 'status'))] ?? '?'}{' '}
              {String(pick(n, 'status') ?? '')} · {String(pick(n, 'body', 'text') ?? '')}
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
function ackedBy(r: Record<string, unknown>): string {
  const by = String(r.acknowledgedBy ?? '');
  const at = toMs(pick(r, 'acknowledgedAt'));
  const when = at ? ` · ${fmtTime(at)}` : '';
  if (by.startsWith('sms:') || r.acknowledgedVia === 'sms') return `by SMS from ${by.replace(/^sms:/, '')}${when}`;
  // The API records the user's id (or 'env:…' / the key's id), not a name.
  return by ? `on the dashboard by ${by}${when}` : '';
}
