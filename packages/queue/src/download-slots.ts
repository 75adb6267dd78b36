/**
 * Download slots for firmware, shared through Redis by every process that serves images (the
 * brokers' MQTT chunks; usable by the HTTP device API the same way): at most `max` devices
 * download at once (the cabinets share 4G links).
 *
 * - `slots`: sorted set of devices holding a slot, scored by their last chunk request (Redis'
 *   clock). A device that asks nothing for `idleMs` loses its slot; one that holds a slot
 *   keeps it for every further chunk; finishing (the last chunk served) frees it at once.
 * - `slots-since`: when each holder got its slot. A slot is held `maxHoldMs` at most: then it
 *   is taken back and the device queues again behind those waiting (with nobody waiting it
 *   gets one again at once, and resumes at the chunk it asks for). Without it, `max` devices
 *   re-asking one chunk just inside `idleMs` would hold every slot for ever.
 * - `waiting` / `waiting-seen`: devices waiting for a slot, by first and by latest request.
 *   Slots go to waiters in order of their first request (fair across brokers); a waiter
 *   nobody has asked for in WAITER_STALE_MS (it gave up, or its broker died) leaves the line.
 * Admission is one Lua script, so two brokers can never hand out the same last slot.
 *
 * Each process holds its waiting requests locally and asks for all of them in one call per
 * tick, first come first served; a request still waiting after `waitMs` is given up.
 */
import type { Logger } from '@spms/log';
import type { Redis } from 'ioredis';

/** A waiter keeps its place this long after its last request (devices retry within seconds). */
export const WAITER_STALE_MS = 20_000;
const TICK_MS = 250;

/**
 * KEYS slots, waiting, waiting-seen, slots-since; ARGV max, idleMs, staleMs, maxHoldMs, nLeave,
 * leave…, devices…. Returns 1 (admitted) or 0 per device, in order.
 */
const ADMIT_LUA = `
local max = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local held = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[4]), 'LIMIT', 0, 1000)
for _, d in ipairs(held) do
  redis.call('ZREM', KEYS[1], d)
  redis.call('ZREM', KEYS[4], d)
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, 1000)
for _, d in ipairs(stale) do
  redis.call('ZREM', KEYS[2], d)
  redis.call('ZREM', KEYS[3], d)
end
local nLeave = tonumber(ARGV[5])
for i = 6, 5 + nLeave do
  redis.call('ZREM', KEYS[2], ARGV[i])
  redis.call('ZREM', KEYS[3], ARGV[i])
end
local out = {}
for i = 6 + nLeave, #ARGV do
  local d = ARGV[i]
  local ok = 0
  if redis.call('ZSCORE', KEYS[1], d) then
    ok = 1
  else
    redis.call('ZADD', KEYS[2], 'NX', now, d)
    redis.call('ZADD', KEYS[3], now, d)
    local free = max - redis.call('ZCARD', KEYS[1])
    if free > 0 and redis.call('ZRANK', KEYS[2], d) < free then
      ok = 1
      redis.call('ZADD', KEYS[4], now, d)
    end
  end
  if ok == 1 then
    redis.call('ZADD', KEYS[1], now, d)
    redis.call('ZREM', KEYS[2], d)
    redis.call('ZREM', KEYS[3], d)
  end
  out[#out + 1] = ok
end
return out
`;

type SlotRedis = Redis & { spmsFwAdmit(...args: (string | number)[]): Promise<number[]> };

export type Admission = 'admitted' | 'timeout' | 'gone' | 'unavailable';

export interface DownloadSlots {
  /** Takes (or refreshes) the device's slot, waiting up to `waitMs` for one; `gone` ends the wait early. */
  admit(deviceId: string, gone: () => boolean): Promise<Admission>;
  /** The device finished: its slot goes to the next waiter. */
  release(deviceId: string): Promise<void>;
  /** Devices holding a slot now, all processes. */
  active(): Promise<number>;
  /** Requests of this process waiting for a slot. */
  waiting(): number;
  close(): void;
}

interface Waiter {
  since: number;
  gone: () => boolean;
  resolve: (a: Admission) => void;
}

export function createDownloadSlots(
  redis: Redis,
  opts: { prefix: string; max: number; idleMs: number; maxHoldMs: number; waitMs: number; logger: Logger },
): DownloadSlots {
  const keys = [
    `${opts.prefix}:fw:slots`,
    `${opts.prefix}:fw:waiting`,
    `${opts.prefix}:fw:waiting-seen`,
    `${opts.prefix}:fw:slots-since`,
  ];
  if (!('spmsFwAdmit' in redis)) redis.defineCommand('spmsFwAdmit', { numberOfKeys: 4, lua: ADMIT_LUA });
  const call = (leave: string[], devices: string[]) =>
    (redis as SlotRedis).spmsFwAdmit(
      ...keys,
      opts.max,
      opts.idleMs,
      WAITER_STALE_MS,
      opts.maxHoldMs,
      leave.length,
      ...leave,
      ...devices,
    );
  // Insertion order is arrival order: the oldest waiter is asked for first.
  const waiters = new Map<string, Waiter>();
  let timer: NodeJS.Timeout | null = null;
  let ticking = false;
  let closed = false;

  async function tick(): Promise<void> {
    if (ticking) return;
    ticking = true;
    try {
      const now = Date.now();
      const leave: string[] = [];
      const ask: string[] = [];
      for (const [id, w] of waiters) {
        if (w.gone()) {
          waiters.delete(id);
          leave.push(id);
          w.resolve('gone');
        } else if (now - w.since >= opts.waitMs) {
          // Keeps its place in Redis: the device's retry comes within WAITER_STALE_MS.
          waiters.delete(id);
          w.resolve('timeout');
        } else ask.push(id);
      }
      if (ask.length === 0 && leave.length === 0) return;
      const verdicts = await call(leave, ask);
      ask.forEach((id, i) => {
        if (verdicts[i] !== 1) return;
        const w = waiters.get(id);
        if (w) {
          waiters.delete(id);
          w.resolve('admitted');
        } else void release(id); // gave up meanwhile
      });
    } catch (err) {
      opts.logger.warn({ err }, 'download slots: Redis unavailable, waiting requests retry');
    } finally {
      ticking = false;
      if (waiters.size === 0 && timer) {
        clearInterval(timer);
        timer = null;
      }
    }
  }

  async function release(deviceId: string): Promise<void> {
    try {
      await redis
        .multi()
        .zrem(keys[0] as string, deviceId)
        .zrem(keys[3] as string, deviceId)
        .exec();
    } catch {
      // The slot frees itself after idleMs.
    }
  }

  return {
    async admit(deviceId, gone) {
      let verdict: number | undefined;
      try {
        [verdict] = await call([], [deviceId]);
      } catch (err) {
        opts.logger.warn({ err, deviceId }, 'download slots: Redis unavailable, request unanswered');
        return 'unavailable';
      }
      if (verdict === 1) return 'admitted';
      if (opts.waitMs === 0 || closed) return 'timeout';
      return new Promise<Admission>((resolve) => {
        waiters.get(deviceId)?.resolve('timeout'); // the same device on an older session
        waiters.set(deviceId, { since: Date.now(), gone, resolve });
        if (!timer) {
          timer = setInterval(() => void tick(), Math.min(TICK_MS, Math.max(10, opts.waitMs)));
          timer.unref();
        }
      });
    },
    release,
    active: () => redis.zcount(keys[0] as string, Date.now() - opts.idleMs, '+inf'),
    waiting: () => waiters.size,
    close() {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      for (const w of waiters.values()) w.resolve('gone');
      waiters.clear();
    },
  };
}
