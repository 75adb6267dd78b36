/**
 * A token bucket in Redis (one Lua call on Redis's clock), shared by every process that names
 * the same key: the broker's per-address connect and failed-auth budgets and the HTTP device
 * API's per-device throttle.
 */
import type { Redis } from 'ioredis';

/**
 * KEYS[1]; ARGV rate (tokens/s), burst, cost (0 = only check that one is left).
 * Returns {allowed 0|1, ms until one token is available}.
 */
const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) / 1000 * rate)
if tokens < 1 then
  return {0, math.ceil((1 - tokens) / rate * 1000)}
end
if cost > 0 then
  tokens = tokens - cost
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
end
return {1, 0}
`;

type BucketRedis = Redis & {
  spmsTokenBucket(key: string, rate: number, burst: number, cost: number): Promise<[number, number]>;
};

export interface TokenVerdict {
  allowed: boolean;
  retryAfterMs: number;
}

/**
 * Defines the bucket's script on `redis` (once). Call it when the connection is made, before
 * any command: on a connection with `enableAutoPipelining`, a pipeline that ioredis opened
 * before `defineCommand` lacks the new command, and a first `takeToken` queued onto it leaves
 * a reply callback with no command behind; when that pipeline's replies come back, ioredis
 * throws "results[i] is not iterable" outside any caller, which ends the process.
 */
export function defineTokenBucket(redis: Redis): void {
  if (!('spmsTokenBucket' in redis)) redis.defineCommand('spmsTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
}

/** Takes `cost` tokens from the bucket at `key` (0: only checks that one is left). Throws when Redis cannot answer. */
export async function takeToken(
  redis: Redis,
  key: string,
  ratePerSec: number,
  burst: number,
  cost: number,
): Promise<TokenVerdict> {
  defineTokenBucket(redis);
  const [ok, wait] = await (redis as BucketRedis).spmsTokenBucket(key, ratePerSec, burst, cost);
  return { allowed: ok === 1, retryAfterMs: wait };
}
