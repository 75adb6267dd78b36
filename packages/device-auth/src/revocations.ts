/**
 * Credential changes from PostgreSQL, independent of Redis pub/sub: triggers on
 * device_credentials record every change of what authenticates (rotation, revocation, the
 * device deleted) in `device_credentials_changes`, and every process polls it. A lost
 * pub/sub message then costs at most one poll interval, not the cache lifetime.
 *
 * Sequence numbers are taken before commit, so a change can become visible after a higher
 * one: each poll also re-reads the last WINDOW_SEC seconds and skips what it has seen.
 */
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';

const WINDOW_SEC = 10;
const PRUNE_EVERY_POLLS = 600;

export interface ChangeWatcher {
  close(): void;
}

export async function watchCredentialChanges(opts: {
  pool: Pool;
  intervalMs: number;
  onChange: (deviceId: string) => void;
  /** Each poll: PostgreSQL's look-up order epoch (`credentials_lookup_order`), as text. */
  onLookupOrder?: (epoch: string) => void;
  /** How long change rows are kept (default 1 h; longer when the shared cache outlives that). */
  retainSec?: number;
  log?: Logger;
}): Promise<ChangeWatcher> {
  const { pool, log } = opts;
  let lastSeq = '0';
  /** seq → when it can be forgotten (it has left the re-read window by then). */
  const seen = new Map<string, number>();
  let polls = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  try {
    const res = await pool.query('SELECT coalesce(max(seq), 0)::text AS seq FROM device_credentials_changes');
    lastSeq = res.rows[0]?.seq ?? '0';
  } catch (err) {
    log?.warn({ err: (err as Error).message }, 'device-auth: credential changes not readable yet');
  }

  async function poll(): Promise<void> {
    const res = await pool.query(
      `SELECT seq::text AS seq, device_id FROM device_credentials_changes
        WHERE seq > $1::bigint OR changed_at > now() - make_interval(secs => $2)
        ORDER BY seq`,
      [lastSeq, WINDOW_SEC],
    );
    const now = Date.now();
    for (const [seq, until] of seen) if (until < now) seen.delete(seq);
    for (const row of res.rows as Array<{ seq: string; device_id: string }>) {
      if (BigInt(row.seq) > BigInt(lastSeq)) lastSeq = row.seq;
      if (seen.has(row.seq)) continue;
      seen.set(row.seq, now + 3 * WINDOW_SEC * 1000);
      opts.onChange(row.device_id);
    }
    if (opts.onLookupOrder) {
      const order = await pool.query('SELECT epoch::text AS epoch FROM credentials_lookup_order WHERE id = 1');
      const epoch = (order.rows[0] as { epoch?: string } | undefined)?.epoch;
      if (epoch !== undefined) opts.onLookupOrder(epoch);
    }
    if (++polls % PRUNE_EVERY_POLLS === 0)
      await pool.query('DELETE FROM device_credentials_changes WHERE changed_at < now() - make_interval(secs => $1)', [
        Math.max(3600, opts.retainSec ?? 3600),
      ]);
  }

  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      poll()
        .catch((err: Error) => log?.warn({ err: err.message }, 'device-auth: polling credential changes failed'))
        .finally(schedule);
    }, opts.intervalMs);
    timer.unref();
  };
  schedule();
  return {
    close() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}

/**
 * Devices whose credentials changed in the last `sinceSec` seconds (as far as rows are
 * kept). A process whose Redis connection comes back bumps them again in the shared cache:
 * a bump it could not make while Redis was away, or one Redis lost (restored from an older
 * snapshot), must not leave a revoked credential valid there.
 */
export async function recentlyChangedDevices(pool: Pool, sinceSec: number): Promise<string[]> {
  const res = await pool.query(
    `SELECT DISTINCT device_id::text AS id FROM device_credentials_changes
      WHERE changed_at > now() - make_interval(secs => $1)`,
    [sinceSec],
  );
  return (res.rows as Array<{ id: string }>).map((r) => r.id);
}
