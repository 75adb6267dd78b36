/**
 * The persistent RPC sweeper (docs/rpc.md), in every API process every RPC_SWEEP_MS:
 * - EXPIRED: unfinished RPCs whose expirationTime passed (never delivered after that: a
 *   copy is only sent after a claim that checks the expiry);
 * - an attempt that got no answer (two-way) or no acknowledgement (oneway) within timeoutMs
 *   of being sent goes back to QUEUED while retries remain (a new copy is queued); on the
 *   last attempt it ends TIMEOUT if the device had acknowledged it, FAILED if not;
 * - every REBUILD_MS (one process, Redis lease): the "has waiting RPCs" marker is rebuilt
 *   from the database and live sessions get copies of their QUEUED RPCs that Redis lost.
 *
 * It lives in the API because the API creates the rows and every deployment runs it; each
 * transition is one UPDATE over rows taken with FOR UPDATE SKIP LOCKED that re-checks the
 * state, so several API processes sweeping at once change each row once.
 */
import type { Pool } from '@spms/db';
import { requeueRpcs } from '@spms/device-auth';
import type { Logger } from '@spms/log';
import { rpcPendingDevicesKey, sessionOwnersKey } from '@spms/queue';
import type { Redis } from 'ioredis';

const BATCH = 500;
const REBUILD_MS = 5000;

export interface RpcSweeperOptions {
  pool: Pool;
  redis: Redis;
  prefix: string;
  wakeup: boolean;
  intervalMs: number;
  log: Logger;
  /** Counts transitions (status lowercase, or `retried`). */
  count: (result: string, n: number) => void;
}

export interface RpcSweeper {
  /** One pass (tests call it to avoid waiting). */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

export function startRpcSweeper(o: RpcSweeperOptions): RpcSweeper {
  let running: Promise<void> | null = null;
  let closed = false;
  let lastRebuild = 0;

  async function expire(): Promise<void> {
    const { rowCount } = await o.pool.query(
      `UPDATE device_rpc r SET status = 'EXPIRED', completed_at = now(), updated_at = now(),
              error = 'expirationTime passed before it finished'
         FROM (SELECT id FROM device_rpc WHERE completed_at IS NULL AND expiration_time <= now()
                ORDER BY expiration_time LIMIT ${BATCH} FOR UPDATE SKIP LOCKED) due
        WHERE r.id = due.id AND r.completed_at IS NULL`,
    );
    if (rowCount) o.count('expired', rowCount);
  }

  async function timeouts(): Promise<void> {
    const { rows } = await o.pool.query<{ deviceId: string; status: string }>(
      `UPDATE device_rpc r SET
              status = CASE WHEN r.attempts <= r.retries THEN 'QUEUED'
                            WHEN r.status = 'DELIVERED' THEN 'TIMEOUT' ELSE 'FAILED' END,
              completed_at = CASE WHEN r.attempts <= r.retries THEN NULL ELSE now() END,
              error = CASE WHEN r.status = 'DELIVERED'
                           THEN format('no answer within %s ms (attempt %s of %s)', r.timeout_ms, r.attempts, r.retries + 1)
                           ELSE format('not acknowledged within %s ms (attempt %s of %s)', r.timeout_ms, r.attempts, r.retries + 1) END,
              updated_at = now()
         FROM (SELECT id FROM device_rpc
                WHERE completed_at IS NULL AND status IN ('SENT', 'DELIVERED')
                  AND sent_at + timeout_ms * interval '1 millisecond' <= now()
                ORDER BY sent_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED) due
        WHERE r.id = due.id AND r.completed_at IS NULL AND r.status IN ('SENT', 'DELIVERED')
        RETURNING r.device_id AS "deviceId", r.status`,
    );
    const by = new Map<string, number>();
    const retried = new Set<string>();
    for (const r of rows) {
      const k = r.status === 'QUEUED' ? 'retried' : r.status.toLowerCase();
      by.set(k, (by.get(k) ?? 0) + 1);
      if (r.status === 'QUEUED') retried.add(r.deviceId);
    }
    for (const [k, n] of by) o.count(k, n);
    for (const deviceId of retried) {
      await o.redis.sadd(rpcPendingDevicesKey(o.prefix), deviceId);
      await requeueRpcs(o.pool, o.redis, o.prefix, deviceId, { onlyIfLive: false, wakeup: o.wakeup });
    }
  }

  /** Marker from the database; copies for live sessions whose list lost them. */
  async function rebuild(): Promise<void> {
    const lease = await o.redis.set(`${rpcPendingDevicesKey(o.prefix)}:rebuild`, '1', 'PX', REBUILD_MS, 'NX');
    if (lease !== 'OK') return;
    const { rows } = await o.pool.query<{ device_id: string }>(
      `SELECT DISTINCT device_id FROM device_rpc
        WHERE completed_at IS NULL AND status = 'QUEUED' AND expiration_time > now()`,
    );
    const ids = rows.map((r) => r.device_id);
    const key = rpcPendingDevicesKey(o.prefix);
    const tmp = `${key}:next`;
    await o.redis.del(tmp);
    for (let i = 0; i < ids.length; i += 1000) await o.redis.sadd(tmp, ...ids.slice(i, i + 1000));
    // Replaced, so devices without waiting RPCs leave it. A mark set by a new RPC between the
    // query and here is lost until the next rebuild; that RPC's own copy is in the list anyway.
    if (ids.length > 0) await o.redis.rename(tmp, key);
    else await o.redis.del(key);
    for (let i = 0; i < ids.length; i += 1000) {
      const batch = ids.slice(i, i + 1000);
      const owners = await o.redis.hmget(sessionOwnersKey(o.prefix), ...batch);
      for (const [j, owner] of owners.entries()) {
        const deviceId = batch[j];
        if (!owner || !deviceId) continue;
        await requeueRpcs(o.pool, o.redis, o.prefix, deviceId, { onlyIfLive: true, wakeup: o.wakeup });
      }
    }
  }

  async function sweep(): Promise<void> {
    await expire();
    await timeouts();
    if (Date.now() - lastRebuild >= REBUILD_MS) {
      lastRebuild = Date.now();
      await rebuild();
    }
  }

  const tick = () => {
    if (running || closed) return;
    running = sweep()
      .catch((err: unknown) => o.log.warn({ err }, 'RPC sweep failed; retried next interval'))
      .finally(() => {
        running = null;
      });
  };
  const timer = o.intervalMs > 0 ? setInterval(tick, o.intervalMs) : undefined;
  timer?.unref();

  return {
    async sweep() {
      while (running) await running;
      await sweep();
    },
    async close() {
      closed = true;
      clearInterval(timer);
      if (running) await running;
    },
  };
}
