/**
 * Plain warnings for operators and admins from GET /api/system, re-read every minute:
 * - acknowledged messages are not durable: devices were told "received", but a Redis restart
 *   would lose what the worker has not stored yet;
 * - texts are only being logged (no SMS provider configured), or no process sends texts at
 *   all (alerts disabled, or every worker down);
 * - texts go out from an alphanumeric sender id, so recipients cannot acknowledge by reply.
 * Silent when all is well, for viewers, and against an API without the route.
 */
import { useEffect, useState } from 'preact/hooks';
import { getSession } from '../api/client.js';

interface SystemStatus {
  durability?: { durable: boolean; problems: string[] };
  sms?: { mode: 'twilio' | 'smpp' | 'console' | 'mixed' | 'none'; replies?: boolean | null };
}

async function fetchSystem(): Promise<SystemStatus | null> {
  const token = getSession()?.token;
  if (!token) return null;
  const res = await fetch('/api/system', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  if (!res.ok) return null; // an older API, or a viewer: no banner
  return (await res.json()) as SystemStatus;
}

export function SystemBanners() {
  const [s, setS] = useState<SystemStatus | null>(null);
  useEffect(() => {
    const load = () => fetchSystem().then(setS, () => setS(null));
    void load();
    const timer = setInterval(load, 60_000);
    return () => clearInterval(timer);
  }, []);
  const d = s?.durability;
  const mode = s?.sms?.mode;
  return (
    <>
      {d && !d.durable && (
        <div class="notice" role="alert" data-testid="durability-banner">
          <strong>Acknowledged messages are not durable.</strong> Redis does not keep the ingest queue on disk, so a
          Redis restart loses messages devices were told were received. Ask the administrator to fix Redis:
          <ul>
            {d.problems.map((p) => (
              <li key={p}>{p}</li>
            ))}
          </ul>
        </div>
      )}
      {mode === 'console' && (
        <div class="notice" role="alert" data-testid="sms-banner">
          <strong>Texts are only being logged.</strong> No SMS provider is configured, so alerts reach nobody's phone.
          Ask the administrator to set the Twilio variables (TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, TWILIO_FROM).
        </div>
      )}
      {mode === 'mixed' && (
        <div class="notice" role="alert" data-testid="sms-banner">
          <strong>Some alert processes only log texts.</strong> Not every worker has the SMS provider's settings.
        </div>
      )}
      {(mode === 'twilio' || mode === 'smpp' || mode === 'mixed') && s?.sms?.replies === false && (
        <div class="notice" data-testid="sms-replies-banner">
          <strong>Replies by SMS are not possible.</strong> Texts go out from an alphanumeric sender id (or a process
          only logs them), which phones cannot answer: acknowledge alerts here. A numeric sender (TWILIO_FROM or
          SMPP_SOURCE_ADDR) lets recipients reply ACK.
        </div>
      )}
      {mode === 'none' && (
        <div class="notice" role="alert" data-testid="sms-banner">
          <strong>No process is sending texts.</strong> Alerts are disabled or every worker is down.
        </div>
      )}
    </>
  );
}
