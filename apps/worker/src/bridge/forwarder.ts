/**
 * The bridge's output: one worker process at a time (a Redis lease) reads the stream fed by
 * feed.ts through a consumer group and publishes each message to ThingsBoard over MQTT with
 * the device's own ThingsBoard credentials (one session per device, opened at need, closed
 * when idle). Per device, messages go strictly in stream order: a device's next message
 * waits until ThingsBoard acknowledged (PUBACK) the one before; a failure is retried with
 * back-off (1 s doubling to TB_BRIDGE_RETRY_MAX_MS) while other devices carry on. A stream
 * entry is acknowledged and deleted only after ThingsBoard's PUBACK, so entries read but not
 * yet delivered stay pending in Redis: a new leader (after a crash or a restart) reads them
 * back first, in order.
 */
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import {
  type TbBridgeHeartbeat,
  tbBridgeDroppedKey,
  tbBridgeLeaderKey,
  tbBridgeStatusKey,
  tbBridgeStreamKey,
} from '@spms/queue';
import type { Redis } from 'ioredis';
import type { BridgeSettings } from './config.js';
import { RedisLease } from './lease.js';
import { type TbCredentialSource, TbCredentialsError } from './tb-credentials.js';
import { TbSessions } from './tb-sessions.js';

const GROUP = 'tb';
const CONSUMER = 'bridge';
/** Entries held in memory at most (the rest wait in Redis). */
const MAX_IN_MEMORY = 20_000;
const LEASE_MS = 10_000;
/** How long a read message waits for a device's earlier one committed after it (see insertInOrder). */
const SETTLE_MS = 500;

interface Entry {
  sid: string;
  deviceId: string;
  /** Gateway receive time. */
  r: number;
  /** When the bridge read it. */
  readAt: number;
  topic: string;
  payload: string;
}

interface Lane {
  deviceId: string;
  queue: Entry[];
  running: boolean;
  /** The head is being published (it may not be overtaken then). */
  inFlight: boolean;
  attempt: number;
}

export interface ForwarderStats {
  forwarded: number;
  lastForwardedAt: number | null;
  lastError: string | null;
  connected: number;
  retrying: number;
  leader: boolean;
}

export interface Forwarder {
  stats(): ForwarderStats;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

type StreamReply = [string, [string, string[] | null][]][] | null;

/** XREADGROUP of the bridge's consumer: `from` '>' = new entries, else its pending ones after `from`. */
const readGroup = (conn: Redis, stream: string, from: string, count: number, blockMs?: number) =>
  (blockMs === undefined
    ? conn.xreadgroup('GROUP', GROUP, CONSUMER, 'COUNT', count, 'STREAMS', stream, from)
    : conn.xreadgroup(
        'GROUP',
        GROUP,
        CONSUMER,
        'COUNT',
        count,
        'BLOCK',
        blockMs,
        'STREAMS',
        stream,
        from,
      )) as Promise<StreamReply>;

export function startForwarder(opts: {
  /** Commands (never blocking). */
  redis: Redis;
  /** A connection of its own for the blocking reads. */
  blocking: Redis;
  pool: Pool;
  prefix: string;
  settings: BridgeSettings;
  credentials: TbCredentialSource;
  logger: Logger;
  onForwarded?: () => void;
}): Forwarder {
  const { redis, blocking, prefix, settings, credentials, logger } = opts;
  const key = tbBridgeStreamKey(prefix);
  const lease = new RedisLease(redis, tbBridgeLeaderKey(prefix), LEASE_MS);
  const target = settings.mqttUrl;
  const sessions = new TbSessions({ target, idleMs: settings.idleMs, pool: opts.pool, credentials });
  const lanes = new Map<string, Lane>();
  const stats: ForwarderStats = {
    forwarded: 0,
    lastForwardedAt: null,
    lastError: null,
    connected: 0,
    retrying: 0,
    leader: false,
  };
  let closed = false;
  let inMemory = 0;
  let wake: (() => void) | null = null;

  const laneOf = (deviceId: string): Lane => {
    let lane = lanes.get(deviceId);
    if (!lane) {
      lane = { deviceId, queue: [], running: false, inFlight: false, attempt: 0 };
      lanes.set(deviceId, lane);
    }
    return lane;
  };

  /**
   * Stream order is commit order, and two transactions (of one worker process or two) can
   * commit a device's messages in the other order than they were received. So a lane keeps
   * its messages in receive order, and a message is sent only SETTLE_MS after it was read:
   * one committed a little later but received earlier is put before it meanwhile. (A head
   * being published is not overtaken; one waiting for a retry is.)
   */
  const insertInOrder = (lane: Lane, e: Entry) => {
    let i = lane.queue.length;
    const floor = lane.inFlight ? 1 : 0;
    while (i > floor && (lane.queue[i - 1] as Entry).r > e.r) i--;
    lane.queue.splice(i, 0, e);
  };

  /** Adds read entries to their device's lane; an entry trimmed away (backlog full) is acknowledged. */
  const take = async (reply: StreamReply): Promise<string | null> => {
    let last: string | null = null;
    const gone: string[] = [];
    const touched = new Set<Lane>();
    const readAt = Date.now();
    for (const [, entries] of reply ?? [])
      for (const [sid, fields] of entries) {
        last = sid;
        if (!fields) {
          gone.push(sid);
          continue;
        }
        const f: Record<string, string> = {};
        for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
        if (!f.d || !f.t || f.p === undefined) {
          gone.push(sid);
          continue;
        }
        const lane = laneOf(f.d);
        insertInOrder(lane, { sid, deviceId: f.d, r: Number(f.r ?? 0), readAt, topic: f.t, payload: f.p });
        inMemory++;
        touched.add(lane);
      }
    // Started once the whole read is sorted in (a restart reads back a device's backlog at once).
    for (const lane of touched) if (!lane.running) void pump(lane);
    if (gone.length > 0) await redis.xack(key, GROUP, ...gone);
    return last;
  };

  async function pump(lane: Lane): Promise<void> {
    lane.running = true;
    while (lane.queue.length > 0 && stats.leader && !closed) {
      const e = lane.queue[0] as Entry;
      const settle = e.readAt + SETTLE_MS - Date.now();
      if (settle > 0) {
        await sleep(settle);
        continue; // the head may have changed
      }
      try {
        lane.inFlight = true;
        await sessions.publish(lane.deviceId, e.topic, e.payload);
        await redis.multi().xack(key, GROUP, e.sid).xdel(key, e.sid).exec();
        lane.inFlight = false;
        if (lane.queue[0] !== e) break; // leadership lost meanwhile: the lane was emptied
        lane.queue.shift();
        inMemory--;
        if (lane.attempt > 0) stats.retrying--;
        lane.attempt = 0;
        stats.forwarded++;
        stats.lastForwardedAt = Date.now();
        opts.onForwarded?.();
        wake?.();
      } catch (err) {
        lane.inFlight = false;
        const message = err instanceof Error ? err.message : String(err);
        if (err instanceof TbCredentialsError && err.permanent) {
          // Nothing will ever deliver them: dropped and counted, so they do not wait forever.
          const sids = lane.queue.map((x) => x.sid);
          await redis
            .multi()
            .xack(key, GROUP, ...sids)
            .xdel(key, ...sids)
            .incrby(tbBridgeDroppedKey(prefix), sids.length)
            .exec();
          inMemory -= sids.length;
          lane.queue = [];
          if (lane.attempt > 0) stats.retrying--;
          lane.attempt = 0;
          stats.lastError = message;
          logger.warn(
            { device: lane.deviceId, dropped: sids.length, err: message },
            'thingsboard bridge: messages dropped',
          );
          break;
        }
        if (lane.attempt === 0) stats.retrying++;
        lane.attempt++;
        const delay = Math.min(settings.retryMaxMs, 1000 * 2 ** Math.min(lane.attempt - 1, 16));
        const device = sessions.nameOf(lane.deviceId) ?? lane.deviceId;
        stats.lastError = `${device}: ${message}`;
        if (lane.attempt === 1 || lane.attempt % 10 === 0)
          logger.warn(
            { device, attempt: lane.attempt, retryInMs: delay, err: message },
            'thingsboard bridge: forwarding failed, will retry',
          );
        await sleep(delay);
      }
    }
    lane.running = false;
  }

  const stopLeading = () => {
    stats.leader = false;
    sessions.dropAll();
    for (const lane of lanes.values()) {
      if (lane.attempt > 0) stats.retrying--;
      lane.attempt = 0;
      inMemory -= lane.queue.length;
      lane.queue = []; // still pending in Redis: the next leader reads them back
    }
    lanes.clear();
  };

  const heartbeat = async () => {
    const beat: TbBridgeHeartbeat = {
      target,
      at: Date.now(),
      connected: sessions.connected,
      retrying: stats.retrying,
      forwarded: stats.forwarded,
      lastForwardedAt: stats.lastForwardedAt,
      lastError: stats.lastError,
    };
    await redis.set(tbBridgeStatusKey(prefix), JSON.stringify(beat), 'PX', LEASE_MS);
  };

  const loop = (async () => {
    let lastBeat = 0;
    while (!closed) {
      try {
        if (!(await lease.hold())) {
          if (stats.leader) stopLeading();
          await sleep(LEASE_MS / 4);
          continue;
        }
        if (!stats.leader) {
          await redis.xgroup('CREATE', key, GROUP, '0', 'MKSTREAM').catch((err: Error) => {
            if (!/BUSYGROUP/.test(err.message)) throw err;
          });
          stats.leader = true;
          // First what an earlier leader read and did not deliver, in order.
          for (let from = '0'; ; ) {
            const reply = await readGroup(redis, key, from, 1000);
            const last = await take(reply);
            if (last === null) break;
            from = last;
          }
          logger.info({ target, pending: inMemory }, 'thingsboard bridge: forwarding');
        }
        if (Date.now() - lastBeat > 2000) {
          await heartbeat();
          lastBeat = Date.now();
        }
        if (inMemory >= MAX_IN_MEMORY) {
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 1000);
          });
          wake = null;
          continue;
        }
        const reply = await readGroup(blocking, key, '>', 500, 1000);
        await take(reply);
      } catch (err) {
        if (closed) break;
        stats.lastError = `redis: ${err instanceof Error ? err.message : String(err)}`;
        logger.warn({ err: stats.lastError }, 'thingsboard bridge: stream read failed, retrying');
        if (stats.leader) stopLeading();
        await sleep(1000);
      }
    }
  })();

  return {
    stats: () => ({ ...stats, connected: sessions.connected }),
    async close() {
      closed = true;
      wake?.();
      blocking.disconnect();
      await loop;
      const wasLeader = stats.leader;
      stopLeading();
      // Hand over at once (a crashed leader's lease simply expires).
      if (wasLeader) await lease.release([tbBridgeStatusKey(prefix)]).catch(() => {});
    },
  };
}
