/**
 * Protection of password sign-in, counted in Redis so every API instance sees the same
 * counters. Three mechanisms, none of which lets an attacker lock the owner out:
 * - **(username, address) lock with exponential back-off**: after `maxPerUser` failures
 *   for one username from one address, that pair is locked for `backoffBaseSec`, doubled
 *   with every further failure (up to `lockoutSec`). Failures are remembered for a day
 *   after the last one and forgotten on a successful sign-in from that address. The owner
 *   signing in from another address is not affected.
 * - **address lock**: `maxPerIp` failures from one address (any usernames) lock the address
 *   for `lockoutSec`, counted from its last failure.
 * - **username slow-down**: once a username has `maxPerUser` failures from any addresses
 *   (within `lockoutSec` of the last), every sign-in attempt for it waits before it is
 *   answered — 250 ms, doubling with each failure, capped at `userDelayMaxMs` — but is
 *   never refused, so an attacker with many addresses gains little and the owner still
 *   gets in with the right password.
 * Counting by the name as typed (not by user id) treats unknown names the same way, so the
 * answer never tells whether a username exists.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

export interface ThrottlePolicy {
  maxPerUser: number;
  maxPerIp: number;
  lockoutSec: number;
  backoffBaseSec: number;
  /** 0 switches the username slow-down off. */
  userDelayMaxMs: number;
}

const PAIR_MEMORY_MS = 24 * 3600_000;
const FIRST_DELAY_MS = 250;

// INCR the pair's failures; from the max-th on, (re)lock the pair for base·2^(n−max), capped.
const RECORD_PAIR_FAILURE = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
local max = tonumber(ARGV[2])
if n >= max then
  local ms = math.min(tonumber(ARGV[3]) * 2 ^ (n - max), tonumber(ARGV[4]))
  redis.call('SET', KEYS[2], n, 'PX', math.floor(ms))
end
return n`;

/** Growing wait for the n-th failure of one username: 0 below the threshold, then doubling up to the cap. */
export function slowDownFor(failures: number, policy: Pick<ThrottlePolicy, 'maxPerUser' | 'userDelayMaxMs'>): number {
  if (policy.userDelayMaxMs <= 0 || failures < policy.maxPerUser) return 0;
  return Math.min(policy.userDelayMaxMs, FIRST_DELAY_MS * 2 ** Math.min(failures - policy.maxPerUser, 30));
}

export class SignInThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly policy: ThrottlePolicy,
  ) {}

  private normal(login: string) {
    return login.trim().toLowerCase();
  }
  /** Hashed, so no separator in a username can make two pairs share a key. */
  private pairId(login: string, ip: string) {
    return createHash('sha256')
      .update(JSON.stringify([this.normal(login), ip]))
      .digest('base64url');
  }
  private pairFailKey(login: string, ip: string) {
    return `${this.prefix}:signin:fail:pair:${this.pairId(login, ip)}`;
  }
  private pairLockKey(login: string, ip: string) {
    return `${this.prefix}:signin:lock:pair:${this.pairId(login, ip)}`;
  }
  private userKey(login: string) {
    return `${this.prefix}:signin:fail:u:${this.normal(login)}`;
  }
  private ipKey(ip: string) {
    return `${this.prefix}:signin:fail:ip:${ip}`;
  }

  /** Seconds until this username may be tried again from this address, or 0 when not locked. */
  async lockedFor(login: string, ip: string): Promise<number> {
    const res = (await this.redis
      .multi()
      .pttl(this.pairLockKey(login, ip))
      .get(this.ipKey(ip))
      .pttl(this.ipKey(ip))
      .exec()) as [Error | null, unknown][];
    const [pairTtl, byIp, ipTtl] = res.map(([err, v]) => {
      if (err) throw err;
      return Number(v ?? 0);
    }) as [number, number, number];
    let wait = Math.max(pairTtl, 0);
    if (byIp >= this.policy.maxPerIp) wait = Math.max(wait, ipTtl);
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  /** How long to hold an attempt for this username before answering it (ms; never a refusal). */
  async slowDownMs(login: string): Promise<number> {
    return slowDownFor(Number((await this.redis.get(this.userKey(login))) ?? 0), this.policy);
  }

  async recordFailure(login: string, ip: string): Promise<void> {
    const ms = this.policy.lockoutSec * 1000;
    await Promise.all([
      this.redis.eval(
        RECORD_PAIR_FAILURE,
        2,
        this.pairFailKey(login, ip),
        this.pairLockKey(login, ip),
        PAIR_MEMORY_MS,
        this.policy.maxPerUser,
        this.policy.backoffBaseSec * 1000,
        ms,
      ),
      this.redis
        .multi()
        .incr(this.userKey(login))
        .pexpire(this.userKey(login), ms)
        .incr(this.ipKey(ip))
        .pexpire(this.ipKey(ip), ms)
        .exec(),
    ]);
  }

  /**
   * Clears this address's failures for the username. Not the username's slow-down (an
   * attacker elsewhere may still be guessing; it fades after lockoutSec) nor the address's
   * count (one shared NAT address may serve many operators).
   */
  async recordSuccess(login: string, ip: string): Promise<void> {
    await this.redis.del(this.pairFailKey(login, ip), this.pairLockKey(login, ip));
  }
}
