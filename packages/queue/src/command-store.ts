/**
 * The durable half of device commands (commands.ts): Redis scripts that append a command
 * and tell the owning broker in one step, take a device's commands only while holding its
 * session, and relay RPC answers. Each is one script so no other process sees half of it.
 *
 * Every key a script touches is passed in KEYS (Redis Cluster routes a script by its keys
 * and refuses undeclared ones on another slot); with a hash-tagged REDIS_PREFIX such as
 * `{spms}` they all hash to one slot. The owning broker's alive/inbox keys depend on the
 * owner recorded in Redis, so the caller reads the owner first and the script checks it is
 * unchanged (compare-and-set); a takeover in between makes the script answer -1 and the
 * caller reads again.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  ATTRIBUTE_PUSH_TTL_MS,
  type DeviceCommand,
  deviceCommandChannel,
  deviceCommandsKey,
  gatewayAliveKey,
  gatewayInboxKey,
  MAX_PENDING_COMMANDS,
  rpcResponseChannel,
  rpcResponseKey,
  sessionOwnersKey,
} from './commands.js';

export interface Script {
  src: string;
  sha: string;
}

export function script(src: string): Script {
  return { src, sha: createHash('sha1').update(src).digest('hex') };
}

/** EVALSHA, loading the script on NOSCRIPT (after a Redis restart, or the first use). */
export async function runScript(redis: Redis, s: Script, keys: string[], args: (string | number)[]): Promise<unknown> {
  try {
    return await redis.evalsha(s.sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(s.src, keys.length, ...keys, ...args);
  }
}

/**
 * KEYS: commands list, session owners, owner's alive key, owner's inbox. ARGV: deviceId,
 * command JSON, list ttl ms, cap, the owner value the caller read ('' = none), only-if-live
 * (1/0). Returns -1 the owner changed since it was read (read again), 0 not queued (no live
 * session and only-if-live), 1 queued for a live session (its broker's inbox has it),
 * 2 queued, no live session. A session recorded for a broker whose alive key has lapsed
 * still gets the inbox entry: that broker may only have stalled past the key's lifetime,
 * and its next sweep then delivers (a dead broker's inbox expires with its key, in a day).
 */
const SEND = script(`
local owner = redis.call('HGET', KEYS[2], ARGV[1]) or ''
if owner ~= ARGV[5] then return -1 end
local live = owner ~= '' and redis.call('EXISTS', KEYS[3]) == 1
if ARGV[6] == '1' and not live then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
if owner ~= '' then
  redis.call('SADD', KEYS[4], 'c:' .. ARGV[1])
  redis.call('PEXPIRE', KEYS[4], 86400000)
end
if not live then return 2 end
return 1`);

/** The gateway id of a session-owners value (`<gatewayId> <fence>`), or '' for none. */
export const ownerGateway = (value: string | null | undefined): string => value?.match(/^(\S+)/)?.[1] ?? '';

/** Compare-and-set rounds before giving up: each lost round is a takeover of this very device. */
const OWNER_READS = 10;

/**
 * KEYS: commands list, session owners. ARGV: deviceId, the taker's owner value, rpc (1/0).
 * The entries taken, or nil when not the owner. Without rpc, RPC requests stay in the list
 * (the session has not subscribed to them yet) and everything else is taken.
 */
const TAKE = script(`
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then return false end
local all = redis.call('LRANGE', KEYS[1], 0, -1)
if ARGV[3] == '1' or #all == 0 then
  redis.call('DEL', KEYS[1])
  return all
end
local taken, kept = {}, {}
for _, raw in ipairs(all) do
  local ok, cmd = pcall(cjson.decode, raw)
  if ok and type(cmd) == 'table' and cmd.kind == 'rpc' then kept[#kept + 1] = raw else taken[#taken + 1] = raw end
end
if #taken == 0 then return taken end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('DEL', KEYS[1])
if #kept > 0 then
  redis.call('RPUSH', KEYS[1], unpack(kept))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return taken`);

export type SendResult = 'live' | 'queued' | 'not_queued';

/**
 * Appends `cmd` to its device's list and tells the broker holding the session (inbox +
 * wake-up). `onlyIfLive`: do not queue it unless a live broker holds the device's session.
 * `wakeup` false skips the pub/sub message (PUBSUB_WAKEUPS=false): receivers find it on their sweep.
 */
export async function sendDeviceCommand(
  redis: Redis,
  prefix: string,
  cmd: DeviceCommand,
  opts: { onlyIfLive: boolean; wakeup: boolean },
): Promise<{ result: SendResult; raw: string }> {
  const raw = JSON.stringify(cmd);
  const owners = sessionOwnersKey(prefix);
  let n: unknown = -1;
  for (let i = 0; i < OWNER_READS && n === -1; i++) {
    const owner = (await redis.hget(owners, cmd.deviceId)) ?? '';
    const gw = ownerGateway(owner);
    const ttl = Math.max(cmd.expiresAt - Date.now(), 1);
    n = await runScript(
      redis,
      SEND,
      [deviceCommandsKey(prefix, cmd.deviceId), owners, gatewayAliveKey(prefix, gw), gatewayInboxKey(prefix, gw)],
      [cmd.deviceId, raw, ttl, MAX_PENDING_COMMANDS, owner, opts.onlyIfLive ? 1 : 0],
    );
  }
  if (n === -1)
    throw new Error(`device ${cmd.deviceId}: its session changed broker ${OWNER_READS} times while sending`);
  const result: SendResult = n === 1 ? 'live' : n === 2 ? 'queued' : 'not_queued';
  // Stored already: a failed wake-up only delays delivery until the receiver's sweep.
  if (result !== 'not_queued' && opts.wakeup)
    await redis.publish(deviceCommandChannel(prefix), cmd.deviceId).catch(() => 0);
  return { result, raw };
}

/** A shared-attribute push's expiry. */
export const attributePushExpiry = (now = Date.now()) => now + ATTRIBUTE_PUSH_TTL_MS;

/** Parses list entries, keeping the unexpired commands of `deviceId` (a malformed entry is skipped). */
export function liveCommands(raws: string[], deviceId: string, now = Date.now()): DeviceCommand[] {
  const out: DeviceCommand[] = [];
  for (const raw of raws) {
    try {
      const cmd = JSON.parse(raw) as DeviceCommand;
      if (cmd.deviceId === deviceId && typeof cmd.expiresAt === 'number' && cmd.expiresAt > now) out.push(cmd);
    } catch {
      // a malformed entry is dropped, not retried forever
    }
  }
  return out;
}

/**
 * Takes the device's commands, but only while `owner` (this broker's session-owners value
 * for it) is still the recorded owner: after a takeover the new owner gets them. RPC
 * requests are taken only with `rpc` (the session subscribed to them): until then they
 * wait, as ThingsBoard keeps an RPC pending until its timeout. null: not the owner.
 * `onDropped` learns how many taken entries were expired (or malformed) and not returned.
 */
export async function takeDeviceCommands(
  redis: Redis,
  prefix: string,
  deviceId: string,
  owner: string,
  rpc: boolean,
  onDropped?: (n: number) => void,
): Promise<DeviceCommand[] | null> {
  const raws = (await runScript(
    redis,
    TAKE,
    [deviceCommandsKey(prefix, deviceId), sessionOwnersKey(prefix)],
    [deviceId, owner, rpc ? 1 : 0],
  )) as string[] | null;
  if (raws === null) return null;
  const live = liveCommands(raws, deviceId);
  if (live.length < raws.length) onDropped?.(raws.length - live.length);
  return live;
}

/**
 * Stores a device's answer to RPC `requestId` for the API that waits for it (only if one
 * does: SET XX) and wakes it. false: nobody waits (unknown id, timed out, or oneway).
 */
export async function relayRpcResponse(
  redis: Redis,
  prefix: string,
  deviceId: string,
  requestId: number,
  response: unknown,
  wakeup: boolean,
): Promise<boolean> {
  const stored = await redis.set(
    rpcResponseKey(prefix, deviceId, requestId),
    JSON.stringify(response),
    'KEEPTTL',
    'XX',
  );
  if (stored === null) return false;
  if (wakeup) await redis.publish(rpcResponseChannel(prefix), `${deviceId}:${requestId}`).catch(() => 0);
  return true;
}
