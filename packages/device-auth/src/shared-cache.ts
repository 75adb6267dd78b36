/**
 * Verified-credential cache shared by every gateway process (brokers, HTTP device API), in
 * Redis, so that a region reconnecting after a blackout longer than the per-process cache
 * costs one Redis call per device instead of a PostgreSQL query and a scrypt hash.
 *
 * What Redis holds, and why it is safe to hold:
 * - `<prefix>:auth:ok:<hmac>` → the device the presented credentials authenticated as (id,
 *   name, profile, transport, which look-up key matched, credential generation). The key is
 *   HMAC-SHA256 under a server secret that Redis never sees, over the presented client id,
 *   username and password (or token): reading Redis does not give a fast way to test
 *   password guesses, unlike a plain digest. Only successes are stored; a wrong password
 *   has no entry and always goes through the real check.
 * - `<prefix>:auth:gen:<deviceId>` → a random credential generation. An entry counts only
 *   while its device's generation is the one it was written with; a credentials change
 *   deletes the generation (bump), so every entry of that device stops counting at once, in
 *   every process. A missing generation (expired, evicted, deleted) never matches, and a
 *   new one is random, so old entries can never become valid again.
 * - `<prefix>:auth:changed:<deviceId>` → when (Redis's clock, µs, made monotonic by
 *   `<prefix>:auth:clock`) the device's credentials last changed. The check returns the
 *   current clock; a writer reads it before it reads the credentials row from PostgreSQL
 *   and writes only if the device has not changed since: a verification against a row read
 *   before a revocation can therefore not be stored after the revocation's bump (the row may
 *   be stale, the generation it would copy is not). Changes of other devices do not matter.
 * - `<prefix>:auth:order` → PostgreSQL's look-up order epoch (`credentials_lookup_order`,
 *   never the same value twice, even from a database restored from a backup: each change
 *   moves it to at least the clock in µs), copied here by every gateway's credential-change poll. A CONNECT is looked up by MQTT
 *   Basic credentials (client id + username) before the username as an access token, so an
 *   entry that matched further down that order (`i` > 0, the common case: an access-token
 *   device that sends a client id) holds only while no MQTT Basic credentials were added or
 *   re-keyed since — the epoch it was written under (`o`) must still be the current one. A
 *   writer reads the epoch with the clock, before it reads PostgreSQL; the entry is not
 *   stored if it moved meanwhile. Without the epoch (Redis emptied) such entries are neither
 *   answered nor stored until the next poll copies it again.
 * The scripts read keys named after the device inside the entry or argument, which assumes
 * one Redis server (not Redis Cluster), as the rest of SPMS does.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { credentialsChangedChannel } from '@spms/queue';
import type { Redis } from 'ioredis';

/** What a hit tells: the device, and at which position of the look-up order its key matched. */
export interface SharedEntry {
  deviceId: string;
  name: string;
  profileId: string;
  transport: 'MQTT' | 'HTTP';
  index: number;
}

/** What a writer read before it went to PostgreSQL: the clock and the look-up order epoch ('' = unknown). */
export interface ShareToken {
  clock: string;
  order: string;
}

export interface SharedProbe {
  entry: SharedEntry | null;
  /** Read with the entry (before any row is read for this attempt). */
  token: ShareToken;
}

/** Redis's clock in µs, never below the last bump's: `clock()` is a Lua expression. */
const CLOCK_LUA = `
local function clock(key)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local last = tonumber(redis.call('GET', key) or '0')
  if last > now then return last end
  return now
end
`;

// KEYS: entry, clock, order; ARGV: generation key prefix. Returns {entry JSON or '', clock, order or ''}.
const CHECK_LUA = `${CLOCK_LUA}
local token = string.format('%.0f', clock(KEYS[2]))
local order = redis.call('GET', KEYS[3]) or ''
local v = redis.call('GET', KEYS[1])
if not v then return {'', token, order} end
local ok, e = pcall(cjson.decode, v)
if not ok or type(e) ~= 'table' or type(e.d) ~= 'string' then return {'', token, order} end
if redis.call('GET', ARGV[1] .. e.d) ~= e.g then return {'', token, order} end
if e.i ~= 0 and (order == '' or e.o ~= order) then return {'', token, order} end
return {v, token, order}
`;

// KEYS: entry, changed, generation, order; ARGV: clock, fresh generation, ttl ms, id, name,
// profile, transport, index, order epoch read with the clock.
const REMEMBER_LUA = `
if tonumber(redis.call('GET', KEYS[2]) or '0') >= tonumber(ARGV[1]) then return 0 end
local index = tonumber(ARGV[8])
local o = redis.call('GET', KEYS[4]) or ''
if index ~= 0 and (o == '' or o ~= ARGV[9]) then return 0 end
local g = redis.call('GET', KEYS[3])
if not g then g = ARGV[2] end
local ttl = tonumber(ARGV[3])
redis.call('SET', KEYS[3], g, 'PX', ttl + 3600000)
redis.call('SET', KEYS[1], cjson.encode({g = g, d = ARGV[4], n = ARGV[5], p = ARGV[6], t = ARGV[7], i = index, o = o}), 'PX', ttl)
return 1
`;

// KEYS: clock; ARGV: changed prefix, generation prefix, changed ttl ms, device ids…
const BUMP_LUA = `${CLOCK_LUA}
local v = clock(KEYS[1]) + 1
local s = string.format('%.0f', v)
redis.call('SET', KEYS[1], s)
for i = 4, #ARGV do
  redis.call('SET', ARGV[1] .. ARGV[i], s, 'PX', ARGV[3])
  redis.call('DEL', ARGV[2] .. ARGV[i])
end
return s
`;

/**
 * How long a device's last change is remembered: longer than any writer can hold a row
 * read before it (the per-process row cache, AUTH_CACHE_TTL_MS, minutes).
 */
const CHANGED_TTL_MS = 25 * 3600_000;

type CacheRedis = Redis & {
  spmsAuthCheck(entry: string, clock: string, order: string, genPrefix: string): Promise<[string, string, string]>;
  spmsAuthRemember(entry: string, changed: string, gen: string, ...args: string[]): Promise<number>;
  spmsAuthBump(clock: string, ...args: string[]): Promise<string>;
};

const random = () => randomBytes(12).toString('base64url');

export function sharedKeys(prefix: string) {
  return {
    clock: `${prefix}:auth:clock`,
    changedPrefix: `${prefix}:auth:changed:`,
    genPrefix: `${prefix}:auth:gen:`,
    entryPrefix: `${prefix}:auth:ok:`,
    order: `${prefix}:auth:order`,
  };
}

/**
 * Defines the shared cache's scripts on `redis` (once). A process whose connection has
 * `enableAutoPipelining` must call it when the connection is made, before any command: a
 * pipeline ioredis opened before `defineCommand` lacks the new command, and a first script
 * call queued onto it leaves a reply callback with no command behind, which ioredis then
 * throws ("results[i] is not iterable") outside any caller — the process ends.
 */
export function defineSharedAuthCommands(redis: Redis): CacheRedis {
  if (!('spmsAuthCheck' in redis)) {
    redis.defineCommand('spmsAuthCheck', { numberOfKeys: 3, lua: CHECK_LUA });
    redis.defineCommand('spmsAuthRemember', { numberOfKeys: 4, lua: REMEMBER_LUA });
    redis.defineCommand('spmsAuthBump', { numberOfKeys: 1, lua: BUMP_LUA });
  }
  return redis as CacheRedis;
}

/**
 * Invalidates every shared entry of these devices, in all processes. Called by whoever
 * changes credentials (the API) and by every gateway that hears of a change, so one of them
 * always runs after the change is committed.
 */
export async function bumpCredentials(redis: Redis, prefix: string, deviceIds: string[]): Promise<void> {
  if (deviceIds.length === 0) return;
  const k = sharedKeys(prefix);
  await defineSharedAuthCommands(redis).spmsAuthBump(
    k.clock,
    k.changedPrefix,
    k.genPrefix,
    String(CHANGED_TTL_MS),
    ...deviceIds,
  );
}

/**
 * After a committed change of a device's credentials (the API's rotation or revocation, a
 * provisioning that gave the device credentials): the shared cache is bumped first, so the
 * old credentials stop authenticating from it before the caller answers, then every process
 * is told on credentialsChangedChannel (drops its own entries, closes the device's live
 * session). Failures are logged, not thrown: the change is committed already.
 */
export async function announceCredentialsChange(
  redis: Redis,
  prefix: string,
  deviceId: string,
  log: { error(obj: object, msg: string): void },
): Promise<void> {
  await bumpCredentials(redis, prefix, [deviceId]).catch((err: Error) => {
    log.error({ err: err.message, deviceId }, 'could not invalidate the shared credential cache');
  });
  await redis.publish(credentialsChangedChannel(prefix), deviceId).catch((err: Error) => {
    log.error({ err: err.message, deviceId }, 'could not publish credentials change');
  });
}

export class SharedCredentialCache {
  private readonly redis: CacheRedis;
  private readonly keys: ReturnType<typeof sharedKeys>;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly secret: string,
    private readonly ttlMs: number,
  ) {
    this.redis = defineSharedAuthCommands(redis);
    this.keys = sharedKeys(prefix);
  }

  /**
   * The entry key of presented credentials. Fields are length-prefixed (no two inputs give
   * the same message) and a missing field differs from an empty one.
   */
  entryKey(kind: 'mqtt' | 'token', fields: Array<string | undefined>): string {
    const h = createHmac('sha256', this.secret).update(`spms-device-auth-v1|${kind}`);
    for (const f of fields) h.update(f === undefined ? '|-' : `|${Buffer.byteLength(f)}:${f}`);
    return `${this.keys.entryPrefix}${h.digest('base64url')}`;
  }

  /** Throws when Redis is unavailable (the caller then verifies the slow way). */
  async check(entryKey: string): Promise<SharedProbe> {
    const [raw, clock, order] = await this.redis.spmsAuthCheck(
      entryKey,
      this.keys.clock,
      this.keys.order,
      this.keys.genPrefix,
    );
    const token = { clock, order };
    if (!raw) return { entry: null, token };
    const e = JSON.parse(raw) as { d: string; n: string; p: string; t: 'MQTT' | 'HTTP'; i: number };
    return { entry: { deviceId: e.d, name: e.n, profileId: e.p, transport: e.t, index: e.i }, token };
  }

  /**
   * Stores a success unless the device's credentials changed since `token.clock` or, for a
   * match further down the look-up order, the order epoch is no longer `token.order`; true
   * when stored.
   */
  async remember(entryKey: string, entry: SharedEntry, token: ShareToken): Promise<boolean> {
    const n = await this.redis.spmsAuthRemember(
      entryKey,
      `${this.keys.changedPrefix}${entry.deviceId}`,
      `${this.keys.genPrefix}${entry.deviceId}`,
      this.keys.order,
      token.clock,
      random(),
      String(this.ttlMs),
      entry.deviceId,
      entry.name,
      entry.profileId,
      entry.transport,
      String(entry.index),
      token.order,
    );
    return n === 1;
  }

  /**
   * Copies PostgreSQL's look-up order epoch (`credentials_lookup_order`) to Redis, whatever
   * Redis holds (a restored database's lower epoch too): every process polls the same
   * database, so they agree.
   */
  async syncOrder(epoch: string): Promise<void> {
    await this.redis.set(this.keys.order, epoch);
  }

  bump(deviceIds: string[]): Promise<void> {
    return bumpCredentials(this.redis, this.prefix, deviceIds);
  }
}
