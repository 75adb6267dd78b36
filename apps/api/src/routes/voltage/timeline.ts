/**
 * Connectivity timeline of one device over [from, to): `offline` inside its offline periods
 * (its lines' state is unknown then), `unknown` before the device existed and after now,
 * `online` otherwise; plus the gateway's session events (connect, disconnect, connection_lost).
 */
import type { Pool } from '@spms/db';

export interface TimelineInterval {
  from: Date;
  to: Date;
  state: 'online' | 'offline' | 'unknown';
}

export async function deviceTimeline(
  pg: Pool,
  device: { id: string; createdAt: Date },
  from: Date,
  to: Date,
  maxEvents = 5000,
): Promise<{ intervals: TimelineInterval[]; events: { at: Date; event: string }[]; truncated: boolean }> {
  const [periods, events] = await Promise.all([
    pg.query<{ started_at: Date; ended_at: Date | null }>(
      `SELECT started_at, ended_at FROM device_offline_periods
        WHERE device_id = $1 AND started_at < $3 AND COALESCE(ended_at, 'infinity') > $2 ORDER BY started_at`,
      [device.id, from, to],
    ),
    pg.query<{ ts: Date; event: string }>(
      `SELECT ts, event FROM device_connectivity WHERE device_id = $1 AND ts >= $2 AND ts < $3 ORDER BY ts LIMIT $4`,
      [device.id, from, to, maxEvents + 1],
    ),
  ]);
  const now = Date.now();
  const start = from.getTime();
  const end = to.getTime();
  const known = { from: Math.max(start, device.createdAt.getTime()), to: Math.min(end, now) };
  const out: TimelineInterval[] = [];
  const push = (a: number, b: number, state: TimelineInterval['state']) => {
    if (b <= a) return;
    const last = out[out.length - 1];
    if (last && last.state === state && last.to.getTime() === a) last.to = new Date(b);
    else out.push({ from: new Date(a), to: new Date(b), state });
  };
  push(start, Math.min(known.from, end), 'unknown');
  let cursor = known.from;
  for (const p of periods.rows) {
    const a = Math.max(p.started_at.getTime(), known.from);
    const b = Math.min(p.ended_at ? p.ended_at.getTime() : Number.POSITIVE_INFINITY, known.to);
    if (b <= a) continue;
    push(cursor, a, 'online');
    push(a, b, 'offline');
    cursor = Math.max(cursor, b);
  }
  push(cursor, known.to, 'online');
  push(Math.max(known.to, known.from), end, 'unknown');
  const rows = events.rows.slice(0, maxEvents);
  return {
    intervals: out,
    events: rows.map((r) => ({ at: r.ts, event: r.event })),
    truncated: events.rows.length > maxEvents,
  };
}
