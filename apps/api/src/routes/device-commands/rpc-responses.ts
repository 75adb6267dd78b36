/**
 * Waits for devices' answers to server-side RPCs. The answer is stored under rpcResponseKey
 * by whichever process relays it (a broker for MQTT, any API process for HTTP devices); the
 * message on rpcResponseChannel (`<deviceId>:<requestId>`) only says "read it now". Every
 * CROSS_PROCESS_SWEEP_MS the waiting keys are read in one MGET, so a lost message delays an
 * answer by at most that, and never loses it.
 */
import type { Logger } from '@spms/log';
import {
  CROSS_PROCESS_SWEEP_MS,
  createRedis,
  rpcResponseChannel,
  rpcResponseKey,
  type TelemetryValue,
} from '@spms/queue';
import type { Redis } from 'ioredis';

interface Waiter {
  key: string;
  finish(response: TelemetryValue | undefined): void;
}

export class RpcResponses {
  /** By `<deviceId>:<requestId>`. */
  private readonly waiting = new Map<string, Waiter>();
  private readonly subscriber: Redis;
  private readonly channel: string;
  private subscribed: Promise<unknown> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;

  constructor(
    private readonly redis: Redis,
    redisUrl: string,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {
    this.channel = rpcResponseChannel(prefix);
    this.subscriber = createRedis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', (err) => log.warn({ err: err.message }, 'device-commands: rpc subscriber error'));
    this.subscriber.on('message', (_ch: string, id: string) => {
      const w = this.waiting.get(id);
      if (w) void this.read([w]);
    });
  }

  /** Subscribes (once) for the wake-ups. Without them answers still arrive, a sweep later. */
  ready(): Promise<unknown> {
    this.subscribed ??= this.subscriber.subscribe(this.channel).catch((err: Error) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  /**
   * Creates the answer's key (before the RPC leaves, so an answer can be stored) and
   * returns `answer`: the device's answer, or `undefined` after `ms`.
   */
  async wait(
    deviceId: string,
    requestId: number,
    ms: number,
  ): Promise<{ answer: Promise<TelemetryValue | undefined> }> {
    const key = rpcResponseKey(this.prefix, deviceId, requestId);
    // Outlives the wait a little: an answer relayed at the last moment is still read, not refused.
    await this.redis.set(key, '', 'PX', ms + 5000);
    const id = `${deviceId}:${requestId}`;
    this.startSweeps();
    const answer = new Promise<TelemetryValue | undefined>((resolve) => {
      const timer = setTimeout(() => finish(undefined), ms);
      const finish = (response: TelemetryValue | undefined) => {
        clearTimeout(timer);
        if (this.waiting.get(id)?.key !== key) return;
        this.waiting.delete(id);
        this.redis.del(key).catch(() => {});
        resolve(response);
      };
      this.waiting.set(id, { key, finish });
    });
    return { answer };
  }

  private startSweeps(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.waiting.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      if (this.sweeping) return;
      this.sweeping = true;
      void this.read([...this.waiting.values()]).finally(() => {
        this.sweeping = false;
      });
    }, CROSS_PROCESS_SWEEP_MS);
    this.timer.unref();
  }

  private async read(waiters: Waiter[]): Promise<void> {
    for (let i = 0; i < waiters.length; i += 1000) {
      const batch = waiters.slice(i, i + 1000);
      let values: (string | null)[];
      try {
        values = await this.redis.mget(...batch.map((w) => w.key));
      } catch (err) {
        this.log.debug({ err }, 'rpc answers not read; retried on the next sweep');
        return;
      }
      batch.forEach((w, j) => {
        const raw = values[j];
        if (!raw) return; // not answered yet ('' = waiting)
        try {
          w.finish(JSON.parse(raw) as TelemetryValue);
        } catch {
          w.finish(raw);
        }
      });
    }
  }

  close(): void {
    clearInterval(this.timer);
    for (const w of [...this.waiting.values()]) w.finish(undefined);
    this.subscriber.disconnect();
  }
}
