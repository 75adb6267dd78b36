/**
 * Waits for devices' answers to server-side RPCs: the broker (MQTT) and the HTTP device
 * API publish them on rpcResponseChannel; the operator request that sent the RPC is
 * waiting here, matched by (deviceId, requestId).
 */
import type { Logger } from '@spms/log';
import { type RpcResponse, rpcResponseChannel, type TelemetryValue } from '@spms/queue';
import { Redis } from 'ioredis';

export class RpcResponses {
  private readonly waiting = new Map<string, (response: TelemetryValue | undefined) => void>();
  private readonly subscriber: Redis;
  private readonly channel: string;
  private subscribed: Promise<unknown> | undefined;

  constructor(redisUrl: string, prefix: string, log: Logger) {
    this.channel = rpcResponseChannel(prefix);
    this.subscriber = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', (err) => log.warn({ err: err.message }, 'device-commands: rpc subscriber error'));
    this.subscriber.on('message', (_ch: string, raw: string) => {
      let msg: RpcResponse;
      try {
        msg = JSON.parse(raw) as RpcResponse;
      } catch {
        return;
      }
      this.waiting.get(`${msg.deviceId}:${msg.requestId}`)?.(msg.response);
    });
  }

  /** Subscribes (once); must be awaited before the RPC is published, or the answer may be missed. */
  ready(): Promise<unknown> {
    this.subscribed ??= this.subscriber.subscribe(this.channel).catch((err: Error) => {
      this.subscribed = undefined;
      throw err;
    });
    return this.subscribed;
  }

  /** The device's answer, or `undefined` after `ms`. */
  wait(deviceId: string, requestId: number, ms: number): Promise<TelemetryValue | undefined> {
    const key = `${deviceId}:${requestId}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        resolve(undefined);
      }, ms);
      this.waiting.set(key, (response) => {
        clearTimeout(timer);
        this.waiting.delete(key);
        resolve(response);
      });
    });
  }

  close(): void {
    for (const finish of [...this.waiting.values()]) finish(undefined);
    this.subscriber.disconnect();
  }
}
