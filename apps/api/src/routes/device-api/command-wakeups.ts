/**
 * Wakes HTTP RPC long-polls when a command is queued for their device (deviceCommandChannel,
 * whose message is the device id). The device's command list in Redis is the source of
 * truth; this only says "look now". A poll also looks every CROSS_PROCESS_SWEEP_MS, so a
 * lost wake-up delays an RPC by at most that (rpc-routes.ts).
 */
import type { Logger } from '@spms/log';
import { createRedis, deviceCommandChannel } from '@spms/queue';
import type { Redis } from 'ioredis';

export class CommandWakeups {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly subscriber: Redis;
  private readonly channel: string;
  private subscribed: Promise<unknown> | undefined;

  constructor(redisUrl: string, prefix: string, log: Logger) {
    this.channel = deviceCommandChannel(prefix);
    // Lazy: most API processes never see an HTTP RPC poll.
    this.subscriber = createRedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', (err) => log.warn({ err: err.message }, 'device-api: command subscriber error'));
    this.subscriber.on('message', (_ch: string, deviceId: string) => {
      for (const wake of this.waiters.get(deviceId) ?? []) wake();
    });
  }

  /** Subscribes once; a poll that starts before this resolved could miss a wake-up. */
  ready(): Promise<unknown> {
    this.subscribed ??= this.subscriber.subscribe(this.channel).catch(() => {
      // Redis down: the poll's own Redis call reports it; try again next time.
      this.subscribed = undefined;
    });
    return this.subscribed;
  }

  /** `done` resolves on the next command for the device or after `ms`; `cancel` resolves it now. */
  wait(deviceId: string, ms: number): { done: Promise<void>; cancel: () => void } {
    let cancel = () => {};
    const done = new Promise<void>((resolve) => {
      const set = this.waiters.get(deviceId) ?? new Set();
      this.waiters.set(deviceId, set);
      const finish = () => {
        clearTimeout(timer);
        set.delete(finish);
        if (set.size === 0) this.waiters.delete(deviceId);
        resolve();
      };
      const timer = setTimeout(finish, ms);
      set.add(finish);
      cancel = finish;
    });
    return { done, cancel };
  }

  close(): void {
    for (const set of [...this.waiters.values()]) for (const wake of [...set]) wake();
    this.subscriber.disconnect();
  }
}
