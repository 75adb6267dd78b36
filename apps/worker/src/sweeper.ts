/**
 * Inactivity sweeper: every SWEEP_INTERVAL_MS (default 200 ms, vs ThingsBoard's 60 s) the
 * one worker process holding a Redis lease takes the devices whose deadline passed and, per
 * device under the same advisory lock as ingest, marks them inactive and opens their offline
 * period from the last activity. The deadline leaves the sorted set only after COMMIT, so a
 * crashed sweeper's work is redone by the next lease holder (lease: 3 s).
 * The leader also relays unpublished domain events (outbox) every few seconds.
 */
import { randomUUID } from 'node:crypto';
import type { DomainEvent } from '@spms/contracts';
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import type { Redis } from 'ioredis';
import type { Deadlines } from './deadlines.js';
import { type EventPublisher, insertEventsAndCommit } from './outbox.js';
import type { DeviceConfigCache } from './persist/device-config.js';
import { msOf, toMs, tsParam } from './persist/sql.js';
import { refreshStatusRows } from './persist/status-snapshot.js';
import { LOCK_DEVICES } from './process-batch.js';

const LEASE = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not v then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 2 end
return 0`;
const LEASE_MS = 3000;

export interface SweeperDeps {
  pool: Pool;
  redis: Redis;
  prefix: string;
  deadlines: Deadlines;
  configs: DeviceConfigCache;
  publisher: EventPublisher;
  logger: Logger;
  intervalMs: number;
}

export function startSweeper(deps: SweeperDeps): { close(): Promise<void> } {
  const id = randomUUID();
  const lockKey = `${deps.prefix}:worker:sweeper-lease`;
  let stopped = false;
  let lastRelay = 0;
  let running: Promise<void> = Promise.resolve();
  const tick = async () => {
    const lease = Number(await deps.redis.eval(LEASE, 1, lockKey, id, LEASE_MS));
    if (lease === 0) return;
    if (lease === 2) await seedDeadlines(deps);
    const now = Date.now();
    const expired = await deps.deadlines.expired(now, 500);
    if (expired.length > 0) await sweep(deps, expired, now);
    if (now - lastRelay > 5000) {
      lastRelay = now;
      await markSustained(deps);
      await deps.publisher.relay();
    }
  };
  const timer = setInterval(() => {
    running = running.then(() =>
      stopped
        ? undefined
        : tick().catch((err: unknown) => deps.logger.warn({ err }, 'inactivity sweep failed; retrying')),
    );
  }, deps.intervalMs);
  return {
    async close() {
      stopped = true;
      clearInterval(timer);
      await running;
      await deps.redis.eval(
        `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
        1,
        lockKey,
        id,
      );
    },
  };
}

/**
 * An open outage is 'pending' until it lasts the momentary threshold; then it is sustained
 * (IEEE 1366: 5 min by default). Checked every 5 s by the leader, with an event for alerts.
 */
async function markSustained(deps: SweeperDeps): Promise<void> {
  const client = await deps.pool.connect();
  let fresh: DomainEvent[] = [];
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<{ device_id: string; line: number; start_msg_id: string; started_at: number }>(
      `UPDATE outages o SET class = 'sustained', updated_at = now()
         FROM devices d JOIN device_profiles p ON p.id = d.profile_id
        WHERE o.device_id = d.id AND o.ended_at IS NULL AND o.class = 'pending'
          AND now() - o.started_at - o.unknown_ms * interval '1 millisecond'
              >= COALESCE(d.momentary_threshold_sec, p.momentary_threshold_sec) * interval '1 second'
        RETURNING o.device_id::text, o.line, o.start_msg_id, ${msOf('o.started_at')} AS started_at`,
    );
    fresh = await insertEventsAndCommit(
      client,
      rows.map((r) => ({
        id: `outage.sustained/${r.device_id}/${r.line}/${r.start_msg_id}`,
        type: 'outage.sustained' as const,
        deviceId: r.device_id,
        occurredAt: Date.now(),
        // started_at is NOT NULL: an open outage row always has its start.
        payload: { line: r.line, startedAt: toMs(r.started_at) as number, startMsgId: r.start_msg_id },
      })),
    );
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  client.release();
  await deps.publisher.publish(fresh);
}

/** A new leader re-creates deadlines of active devices that Redis lost (restart without persistence). */
async function seedDeadlines(deps: SweeperDeps): Promise<void> {
  const { rows } = await deps.pool.query<{ id: string; la: number }>(
    `SELECT device_id::text AS id, ${msOf('last_activity_at')} AS la FROM device_state WHERE active AND last_activity_at IS NOT NULL`,
  );
  const configs = await deps.configs.get(rows.map((r) => r.id));
  await deps.deadlines.seed(
    rows
      .filter((r) => configs.has(r.id))
      .map((r) => [r.id, (toMs(r.la) as number) + (configs.get(r.id)?.timeoutMs ?? 0)]),
  );
}

async function sweep(deps: SweeperDeps, expired: [string, number][], now: number): Promise<void> {
  const ids = expired.map(([d]) => d);
  const configs = await deps.configs.get(ids);
  const client = await deps.pool.connect();
  const events: DomainEvent[] = [];
  const done: [string, number][] = [];
  const later: [string, number][] = [];
  try {
    await client.query('BEGIN');
    await client.query(LOCK_DEVICES, [ids.filter((d) => configs.has(d))]);
    const { rows } = await client.query<{ id: string; la: number | null; active: boolean }>(
      `SELECT device_id::text AS id, ${msOf('last_activity_at')} AS la, active FROM device_state WHERE device_id = ANY($1::uuid[])`,
      [ids],
    );
    const state = new Map(rows.map((r) => [r.id, r]));
    const off: unknown[][] = [[], [], []];
    for (const [deviceId, deadline] of expired) {
      const cfg = configs.get(deviceId);
      const s = state.get(deviceId);
      if (!cfg || !s) {
        done.push([deviceId, deadline]); // deleted device, or never stored: nothing to do
        continue;
      }
      // Newest activity known anywhere: the deadline (raised before the DB write) or the row.
      const last = Math.max(deadline - cfg.timeoutMs, toMs(s.la) ?? 0);
      if (last + cfg.timeoutMs > now) {
        later.push([deviceId, last + cfg.timeoutMs]); // timeout raised meanwhile
        done.push([deviceId, deadline]);
        continue;
      }
      done.push([deviceId, deadline]);
      if (!s.active) continue;
      off[0]?.push(deviceId);
      off[1]?.push(last);
      off[2]?.push(last + cfg.timeoutMs);
      events.push({
        id: `device.offline/${deviceId}/${last}`,
        type: 'device.offline',
        deviceId,
        occurredAt: last + cfg.timeoutMs,
        payload: { lastActivity: last, inactiveAt: last + cfg.timeoutMs, detectedAt: now },
      });
    }
    if ((off[0]?.length ?? 0) > 0) {
      await client.query(
        `UPDATE device_state s SET active = false, inactive_since = ${tsParam('x.at')}, updated_at = now()
           FROM unnest($1::uuid[], $2::float8[], $3::float8[]) AS x(d, f, at) WHERE s.device_id = x.d`,
        off,
      );
      await client.query(
        `INSERT INTO device_offline_periods (device_id, started_at)
         SELECT d, ${tsParam('f')} FROM unnest($1::uuid[], $2::float8[]) AS x(d, f) ON CONFLICT DO NOTHING`,
        off.slice(0, 2),
      );
      await refreshStatusRows(client, off[0] as string[]);
    }
    const fresh = await insertEventsAndCommit(client, events);
    events.length = 0;
    events.push(...fresh);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    client.release(err instanceof Error ? err : true);
    throw err;
  }
  client.release();
  await deps.deadlines.removeIfUnchanged(done);
  await deps.deadlines.raise(later);
  await deps.publisher
    .publish(events)
    .catch((err: unknown) => deps.logger.warn({ err }, 'offline events not yet published'));
  if (events.length > 0) deps.logger.info({ devices: events.map((e) => e.deviceId) }, 'devices went offline');
}
