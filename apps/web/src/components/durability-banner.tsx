/**
 * A plain warning for operators and admins when Redis does not keep acknowledged messages
 * durably (GET /api/system): devices were told "received", but a Redis restart would lose
 * what the worker has not stored yet. Re-read every minute; silent when durable or unknown.
 */
import { useEffect, useState } from 'preact/hooks';
import { getSession } from '../api/client.js';

interface Durability {
  durable: boolean;
  problems: string[];
}

async function fetchDurability(): Promise<Durability | null> {
  const token = getSession()?.token;
  if (!token) return null;
  const res = await fetch('/api/system', { headers: { accept: 'application/json', authorization: `Bearer ${token}` } });
  if (!res.ok) return null; // an older API, or a viewer: no banner
  return ((await res.json()) as { durability?: Durability }).durability ?? null;
}

export function DurabilityBanner() {
  const [d, setD] = useState<Durability | null>(null);
  useEffect(() => {
    const load = () => fetchDurability().then(setD, () => setD(null));
    void load();
    const timer = setInterval(load, 60_000);
    return () => clearInterval(timer);
  }, []);
  if (!d || d.durable) return null;
  return (
    <div class="notice" role="alert" data-testid="durability-banner">
      <strong>Acknowledged messages are not durable.</strong> Redis does not keep the ingest queue on disk, so a Redis
      restart loses messages devices were told were received. Ask the administrator to fix Redis:
      <ul>
        {d.problems.map((p) => (
          <li key={p}>{p}</li>
        ))}
      </ul>
    </div>
  );
}
