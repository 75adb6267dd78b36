/**
 * A lease in Redis held by one process at a time (SET NX PX, renewed by its holder). A
 * holder that dies simply stops renewing: another process takes over once it expires.
 */
import type { Redis } from 'ioredis';

const HOLD = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', unpack(KEYS)) end
return 0`;

export class RedisLease {
  private readonly me = `${process.pid}-${Math.random().toString(36).slice(2)}`;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly ms: number,
  ) {}

  /** Takes the lease or renews it; true while this process holds it. */
  async hold(): Promise<boolean> {
    return (await this.redis.eval(HOLD, 1, this.key, this.me, this.ms)) === 1;
  }

  /** Gives it up at once if held (with `alsoDelete`, keys that only the holder writes). */
  async release(alsoDelete: string[] = []): Promise<void> {
    await this.redis.eval(RELEASE, 1 + alsoDelete.length, this.key, ...alsoDelete, this.me);
  }
}
