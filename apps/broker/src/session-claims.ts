/**
 * One session per device across broker processes, without trusting a pub/sub message.
 *
 * The owner of each device's session is recorded in Redis (sessionOwnersKey: deviceId →
 * `<gatewayId> <fence>`, the fence a counter every claim increments). A broker accepting a
 * device claims it in one script that also puts `t:<deviceId>` in the previous owner's inbox
 * set (gatewayInboxKey); the pub/sub message on sessionClaimsChannel only wakes that broker.
 * Each broker reads its inbox on the wake-up and on every sweep (CROSS_PROCESS_SWEEP_MS), and
 * closes a session whose recorded owner is no longer its own claim, as `session_replaced`.
 * So a lost message delays a takeover by at most a sweep. A claim that failed (Redis out of
 * memory, away for a moment) is made again by the next sweep that reaches Redis. All local
 * sessions are compared with the record, claiming again where it is missing, whenever the
 * connection to Redis is made again (a Redis that came back without its data), and every
 * SESSION_FULL_CHECK_MS (default 60 s) as a backstop: records lost while the connection stayed
 * up, as in a Redis Cluster failover, where ioredis keeps its connection pool. The
 * full check allocates ~0.6 KB per session and asks Redis for every record; it once ran every
 * 10 s, most of an idle broker's allocation (~1 MB/s at 16,000 sessions) and Redis work.
 *
 * The inbox also carries `c:<deviceId>` from command senders (commands.ts drains those), and
 * gatewayAliveKey, refreshed every sweep, tells senders that this broker is running.
 */
import { randomUUID } from 'node:crypto';
import {
  CROSS_PROCESS_SWEEP_MS,
  deviceCommandsKey,
  GATEWAY_ALIVE_TTL_MS,
  gatewayAliveKey,
  gatewayInboxKey,
  ownerGateway,
  rpcPendingDevicesKey,
  runScript,
  script,
  sessionClaimsChannel,
  sessionFenceKey,
  sessionOwnersKey,
} from '@spms/queue';
import type { Redis } from 'ioredis';
import type { GatewayClient, GatewayContext } from './context.js';
import { recordConnectivity } from './sessions.js';

/**
 * KEYS: owners, fence, the previous owner's inbox, the device's command list, the set of
 * devices that may have persistent RPCs waiting. ARGV: deviceId, gatewayId, the previous
 * owner value the caller expects ('' = none). Every key is declared (Redis Cluster): the inbox
 * depends on the previous owner, so the script checks the owner is still the expected one
 * and answers {'', '', owner} otherwise (try again with that owner's inbox). Returns
 * {owner value, previous owner to wake or '', commands waiting (0/1), RPCs marked (0/1)}:
 * a connect learns in this one round trip whether it needs a command take or an RPC requeue
 * at all (they were two more round trips per connect of a storm, almost always for nothing).
 */
const CLAIM = script(`
local prev = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if prev ~= ARGV[3] then return {'', '', prev} end
local fence = redis.call('INCR', KEYS[2])
local value = ARGV[2] .. ' ' .. fence
redis.call('HSET', KEYS[1], ARGV[1], value)
local wake = ''
local gw = string.match(prev, '^(%S+)')
if gw and gw ~= ARGV[2] then
  redis.call('SADD', KEYS[3], 't:' .. ARGV[1])
  redis.call('PEXPIRE', KEYS[3], 86400000)
  wake = gw
end
return {value, wake, redis.call('EXISTS', KEYS[4]), redis.call('SISMEMBER', KEYS[5], ARGV[1])}`);

/**
 * Claims `deviceId` for `gatewayId`. The first try expects no owner (a device whose last
 * session ended cleanly: one round trip); a refused try names the owner to expect next
 * (two round trips, as many as a read then a claim), and so on while other claims race this one.
 */
async function claimOwner(
  redis: Redis,
  prefix: string,
  deviceId: string,
  gatewayId: string,
): Promise<{ value: string; wake: string; waiting: ClaimFound }> {
  const owners = sessionOwnersKey(prefix);
  const list = deviceCommandsKey(prefix, deviceId);
  const marked = rpcPendingDevicesKey(prefix);
  let prev = '';
  for (let i = 0; i < 10; i++) {
    const inbox = gatewayInboxKey(prefix, ownerGateway(prev) || gatewayId);
    const res = (await runScript(
      redis,
      CLAIM,
      [owners, sessionFenceKey(prefix), inbox, list, marked],
      [deviceId, gatewayId, prev],
    )) as [string, string, string | number | undefined, number?];
    if (res[0] !== '') return { value: res[0], wake: res[1], waiting: { commands: res[2] === 1, rpcs: res[3] === 1 } };
    prev = String(res[2] ?? '');
  }
  throw new Error('session owner kept changing while claiming');
}

/** KEYS: owners. ARGV: deviceId, value. Deletes the record only while it is still this session's. */
const RELEASE = script(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`);

const BATCH = 1000;

export interface SessionClaims {
  gatewayId: string;
  /** Records this session as the device's (replacing any other broker's). */
  claim(client: GatewayClient): void;
  /** The session ended: forget the record if it is still this session's. */
  release(client: GatewayClient): void;
  /** This session's owner value once its claim succeeded. */
  ownerOf(client: GatewayClient): string | undefined;
  /** Reads the inbox and checks ownership now (tests; the sweep does it every interval). */
  sweep(): Promise<void>;
  close(): Promise<void>;
}

/** What waited for the device when its session was claimed. */
export interface ClaimFound {
  /** Its command list was not empty. */
  commands: boolean;
  /** It is marked as possibly having persistent RPCs waiting (rpcPendingDevicesKey). */
  rpcs: boolean;
}

export interface ClaimHooks {
  /** The session now owns the device (commands may be taken); `waiting` as read by the claim. */
  owned(client: GatewayClient, waiting: ClaimFound): void;
  /** Commands are waiting for a device whose session is here. */
  commands(deviceId: string): void;
}

export async function startSessionClaims(
  ctx: GatewayContext,
  redis: Redis,
  subscriber: Redis,
  hooks: ClaimHooks,
): Promise<SessionClaims> {
  const gatewayId = randomUUID();
  const prefix = ctx.config.REDIS_PREFIX;
  const channel = sessionClaimsChannel(prefix);
  const owners = sessionOwnersKey(prefix);
  const inbox = gatewayInboxKey(prefix, gatewayId);
  const owned = new WeakMap<GatewayClient, string>();
  const claiming = new WeakSet<GatewayClient>();
  /** Sessions whose claim failed, claimed again by the next sweep (held until then only). */
  const unrecorded = new Set<GatewayClient>();
  const warned = new WeakSet<GatewayClient>();
  const live = (c: GatewayClient | undefined): c is GatewayClient => !!c && !c.closed && !!c.spms;

  function takenOver(client: GatewayClient, deviceId: string): void {
    if (!live(client) || !client.spms) return;
    client.spms.replaced = true;
    client.spms.closeReason = 'session_replaced';
    ctx.metrics.takeovers.inc();
    client.spms.log.info('session taken over by a connection on another gateway');
    recordConnectivity(ctx, deviceId, 'session_replaced', { by: 'other_gateway' });
    client.close();
  }

  function claim(client: GatewayClient): void {
    const deviceId = client.spms?.device.id;
    if (!deviceId || claiming.has(client)) return;
    claiming.add(client);
    claimOwner(redis, prefix, deviceId, gatewayId).then(
      ({ value, wake, waiting }) => {
        claiming.delete(client);
        if (wake && ctx.config.PUBSUB_WAKEUPS) redis.publish(channel, wake).catch(() => {});
        if (client.closed || ctx.devices.get(deviceId) !== client) {
          // Ended (or replaced here) while the claim was on its way: the record must not outlive it.
          runScript(redis, RELEASE, [owners], [deviceId, value]).catch(() => {});
          return;
        }
        owned.set(client, value);
        hooks.owned(client, waiting);
      },
      (err: unknown) => {
        claiming.delete(client);
        // Claimed again by the next sweep that reaches Redis; until then other brokers can't see it.
        unrecorded.add(client);
        ctx.metrics.claimFailures.inc();
        // Once per session: a Redis refusing writes would otherwise log every session every second.
        if (warned.has(client)) ctx.logger.debug({ err, deviceId }, 'session claim not recorded again');
        else {
          warned.add(client);
          ctx.logger.warn({ err, deviceId }, 'session claim not recorded');
        }
      },
    );
  }

  /** Closes the sessions among `clients` whose record names another session; claims unrecorded ones. */
  async function checkOwnership(clients: GatewayClient[]): Promise<void> {
    for (let i = 0; i < clients.length; i += BATCH) {
      const batch = clients.slice(i, i + BATCH).filter((c) => live(c) && !claiming.has(c));
      if (batch.length === 0) continue;
      const before = batch.map((c) => owned.get(c));
      const values = await redis.hmget(owners, ...batch.map((c) => c.spms?.device.id as string));
      batch.forEach((client, j) => {
        const recorded = values[j] ?? null;
        const mine = owned.get(client);
        // A claim that started after the read is newer than what was read: judge it next time.
        if (claiming.has(client) || !live(client) || mine !== before[j]) return;
        if (recorded === null) claim(client);
        else if (recorded !== mine) takenOver(client, client.spms?.device.id as string);
      });
    }
  }

  async function readInbox(): Promise<void> {
    for (;;) {
      const items = (await redis.spop(inbox, BATCH)) as string[];
      const taken: GatewayClient[] = [];
      for (const item of items) {
        const deviceId = item.slice(2);
        const client = ctx.devices.get(deviceId);
        if (!live(client)) continue;
        if (item.startsWith('t:')) taken.push(client);
        else if (item.startsWith('c:')) hooks.commands(deviceId);
      }
      await checkOwnership(taken);
      if (items.length < BATCH) return;
    }
  }

  /** When all sessions were last compared with the record; 0: at the next sweep. */
  let lastFullCheck = Date.now();
  let running: Promise<void> | null = null;
  /** A wake-up came during a sweep: its inbox entry may have landed after that sweep's read. */
  let again = false;
  const sweep = (): Promise<void> => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        await redis.set(gatewayAliveKey(prefix, gatewayId), '1', 'PX', GATEWAY_ALIVE_TTL_MS);
        for (const client of unrecorded) {
          unrecorded.delete(client);
          if (live(client) && ctx.devices.get(client.spms?.device.id as string) === client) claim(client);
        }
        do {
          again = false;
          await readInbox();
        } while (again);
        if (Date.now() - lastFullCheck >= ctx.config.SESSION_FULL_CHECK_MS) {
          const started = Date.now();
          await checkOwnership([...ctx.devices.values()]);
          lastFullCheck = started; // not when it failed half-way: the next sweep tries again
        }
      } catch (err) {
        ctx.logger.debug({ err }, 'session sweep failed; retried next interval');
      } finally {
        running = null;
      }
    })();
    return running;
  };

  subscriber.on('message', (ch: string, message: string) => {
    if (ch === channel && message === gatewayId) void sweep();
  });
  await subscriber.subscribe(channel);
  // Connected again (Redis restarted, failed over, or the link broke): what it holds may have
  // lost records, so the next sweep compares every session (at once, not a sweep later).
  const onReady = () => {
    lastFullCheck = 0;
    void sweep();
  };
  redis.on('ready', onReady);
  await sweep();
  const timer = setInterval(() => void sweep(), CROSS_PROCESS_SWEEP_MS);
  timer.unref();

  return {
    gatewayId,
    claim,
    release(client) {
      const value = owned.get(client);
      const deviceId = client.spms?.device.id;
      if (!value || !deviceId) return;
      owned.delete(client);
      runScript(redis, RELEASE, [owners], [deviceId, value]).catch(() => {});
    },
    ownerOf: (client) => owned.get(client),
    sweep,
    async close() {
      clearInterval(timer);
      redis.off('ready', onReady);
      unrecorded.clear();
      await running;
      await redis.del(gatewayAliveKey(prefix, gatewayId), inbox).catch(() => {});
    },
  };
}
