/**
 * The durable half of device commands (commands.ts): Redis scripts that append a command
 * and tell the owning broker in one step, take a device's commands only while holding its
 * session, and relay RPC answers. Each is one script so no other process sees half of it.
 * The scripts build the inbox/alive key names from the prefix: SPMS runs one Redis (not a
 * cluster), where that is allowed.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import {
  ATTRIBUTE_PUSH_TTL_MS,
  type DeviceCommand,
  deviceCommandChannel,
  deviceCommandsKey,
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

/** The live owner's gateway id of a session-owners value, or nil (Lua helper, shared by scripts). */
const LIVE_OWNER = `
local function live_owner(prefix, value)
  if not value then return nil end
  local gw = string.match(value, '^(%S+)')
  if gw and redis.call('EXISTS', prefix .. ':broker:gw:' .. gw .. ':alive') == 1 then return gw end
  return nil
end`;

/**
 * KEYS: commands list, session owners. ARGV: deviceId, command JSON, list ttl ms, cap,
 * prefix, only-if-live (1/0). Returns 0 not queued (no live session and only-if-live),
 * 1 queued for a live session (its broker's inbox has it), 2 queued, no live session.
 */
const SEND = script(`${LIVE_OWNER}
local gw = live_owner(ARGV[5], redis.call('HGET', KEYS[2], ARGV[1]))
if ARGV[6] == '1' and not gw then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('LTRIM', KEYS[1], -tonumber(ARGV[4]), -1)
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
if not gw then return 2 end
local inbox = ARGV[5] .. ':broker:gw:' .. gw .. ':inbox'
redis.call('SADD', inbox, 'c:' .. ARGV[1])
redis.call('PEXPIRE', inbox, 86400000)
return 1`);

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
  const ttl = Math.max(cmd.expiresAt - Date.now(), 1);
  const n = await runScript(
    redis,
    SEND,
    [deviceCommandsKey(prefix, cmd.deviceId), sessionOwnersKey(prefix)],
    [cmd.deviceId, raw, ttl, MAX_PENDING_COMMANDS, prefix, opts.onlyIfLive ? 1 : 0],
  );
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
 */
export async function takeDeviceCommands(
  redis: Redis,
  prefix: string,
  deviceId: string,
  owner: string,
  rpc: boolean,
): Promise<DeviceCommand[] | null> {
  const raws = (await runScript(
    redis,
    TAKE,
    [deviceCommandsKey(prefix, deviceId), sessionOwnersKey(prefix)],
    [deviceId, owner, rpc ? 1 : 0],
  )) as string[] | null;
  return raws === null ? null : liveCommands(raws, deviceId);
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
