/**
 * The bridge's input: after a worker committed an ingest batch (and before its job
 * completes), the messages ThingsBoard should also see are appended to one Redis stream.
 * A worker that dies between the commit and the append leaves its job to be redelivered:
 * re-processing stores nothing new and appends again, so nothing accepted is missed (a
 * message may be forwarded twice; ThingsBoard keys telemetry by timestamp, so the second
 * copy overwrites the first with the same values). Nothing here is on the device's
 * acknowledgement path: the gateway acknowledged when the message reached the ingest queue.
 * The stream is bounded: past `maxBacklog` the oldest messages are dropped and counted.
 */
import { type IngestMessage, tbBridgeDroppedKey, tbBridgeStreamKey } from '@spms/queue';
import type { Redis } from 'ioredis';
import { toThingsBoard } from './tb-payload.js';

export class BridgeFeed {
  /** Messages dropped by this process's appends because the backlog was full. */
  dropped = 0;

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly maxBacklog: number,
  ) {}

  async append(messages: readonly IngestMessage[]): Promise<void> {
    const key = tbBridgeStreamKey(this.prefix);
    const pipe = this.redis.pipeline();
    let n = 0;
    for (const m of messages) {
      const out = toThingsBoard(m);
      if (!out) continue;
      pipe.xadd(key, '*', 'd', m.deviceId, 'id', m.id, 'r', String(m.receivedAt), 't', out.topic, 'p', out.payload);
      n++;
    }
    if (n === 0) return;
    pipe.xtrim(key, 'MAXLEN', this.maxBacklog);
    const results = (await pipe.exec()) ?? [];
    const failed = results.find(([err]) => err);
    if (failed) throw failed[0];
    const trimmed = Number(results.at(-1)?.[1] ?? 0);
    if (trimmed > 0) {
      this.dropped += trimmed;
      await this.redis.incrby(tbBridgeDroppedKey(this.prefix), trimmed);
    }
  }
}
