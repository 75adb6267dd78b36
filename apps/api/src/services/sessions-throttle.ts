/**
 * Lock-out after repeated failed sign-ins, per username and per IP address, counted in
 * Redis so every API instance sees the same counters. Each failure restarts the lock
 * period, so a lock lasts `lockoutSec` after the last failed attempt. Counting by the
 * name as typed (not by user id) throttles guesses at unknown names the same way, so the
 * answer never tells whether a username exists. A success clears the username's counter
 * (not the address's: one shared NAT address may serve many operators).
 */
import type { Redis } from 'ioredis';

export interface ThrottlePolicy {
  maxPerUser: number;
  maxPerIp: number;
  lockoutSec: number;
}

export class SignInThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly policy: ThrottlePolicy,
  ) {}

  private userKey(login: string) {
    return `${this.prefix}:signin:fail:u:${login.trim().toLowerCase()}`;
  }
  private ipKey(ip: string) {
    return `${this.prefix}:signin:fail:ip:${ip}`;
  }

  /** Seconds until the caller may try again, or 0 when not locked. */
  async lockedFor(login: string, ip: string): Promise<number> {
    const res = (await this.redis
      .multi()
      .get(this.userKey(login))
      .pttl(this.userKey(login))
      .get(this.ipKey(ip))
      .pttl(this.ipKey(ip))
      .exec()) as [Error | null, unknown][];
    const [user, userTtl, byIp, ipTtl] = res.map(([err, v]) => {
      if (err) throw err;
      return Number(v ?? 0);
    }) as [number, number, number, number];
    let wait = 0;
    if (user >= this.policy.maxPerUser) wait = Math.max(wait, userTtl);
    if (byIp >= this.policy.maxPerIp) wait = Math.max(wait, ipTtl);
    return wait > 0 ? Math.ceil(wait / 1000) : 0;
  }

  async recordFailure(login: string, ip: string): Promise<void> {
    const ms = this.policy.lockoutSec * 1000;
    await this.redis
      .multi()
      .incr(this.userKey(login))
      .pexpire(this.userKey(login), ms)
      .incr(this.ipKey(ip))
      .pexpire(this.ipKey(ip), ms)
      .exec();
  }

  async recordSuccess(login: string): Promise<void> {
    await this.redis.del(this.userKey(login));
  }
}
