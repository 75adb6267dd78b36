/**
 * The cut-over bridge (TB_BRIDGE_URL set): every worker process feeds the stream after its
 * commits (feed.ts); one of them at a time forwards it to ThingsBoard (forwarder.ts). Its
 * state is in the worker's /metrics and, through the leader's heartbeat, in GET /api/system.
 */
import type { Pool } from '@spms/db';
import type { Logger } from '@spms/log';
import { createRedis, tbBridgeDroppedKey, tbBridgeStreamKey } from '@spms/queue';
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BridgeSettings } from './config.js';
import { BridgeFeed } from './feed.js';
import { type Forwarder, startForwarder } from './forwarder.js';
import { TbCredentialSource } from './tb-credentials.js';

export interface Bridge {
  feed: BridgeFeed;
  forwarder: Forwarder;
  close(): Promise<void>;
}

export function startBridge(opts: {
  settings: BridgeSettings;
  redis: Redis;
  redisUrl: string;
  prefix: string;
  pool: Pool;
  logger: Logger;
  registry: Registry;
}): Bridge {
  const { settings, redis, prefix, registry } = opts;
  const logger = opts.logger.child({ component: 'tb-bridge' });
  const feed = new BridgeFeed(redis, prefix, settings.maxBacklog);
  const blocking = createRedis(opts.redisUrl, { maxRetriesPerRequest: null });
  blocking.on('error', () => {}); // reported by the forwarder's loop
  const forwarded = new Counter({
    name: 'spms_tb_bridge_forwarded_total',
    help: 'Messages this process forwarded to ThingsBoard (acknowledged by it)',
    registers: [registry],
  });
  const forwarder = startForwarder({
    redis,
    blocking,
    pool: opts.pool,
    prefix,
    settings,
    credentials: new TbCredentialSource(settings),
    logger,
    onForwarded: () => forwarded.inc(),
  });
  new Gauge({
    name: 'spms_tb_bridge_backlog',
    help: 'Messages accepted by SPMS and not yet acknowledged by ThingsBoard (bounded by TB_BRIDGE_MAX_BACKLOG)',
    registers: [registry],
    async collect() {
      this.set(await redis.xlen(tbBridgeStreamKey(prefix)));
    },
  });
  // A running total kept in Redis (all workers): a counter, read at scrape time.
  new Counter({
    name: 'spms_tb_bridge_dropped_total',
    help: 'Messages dropped (by all workers) because the bridge backlog was full',
    registers: [registry],
    async collect() {
      this.reset();
      this.inc(Number((await redis.get(tbBridgeDroppedKey(prefix))) ?? 0));
    },
  });
  new Gauge({
    name: 'spms_tb_bridge_retrying_devices',
    help: 'Devices whose next message to ThingsBoard waits for a retry (this process, when it forwards)',
    registers: [registry],
    collect() {
      this.set(forwarder.stats().retrying);
    },
  });
  new Gauge({
    name: 'spms_tb_bridge_leader',
    help: '1 when this process is the one forwarding to ThingsBoard',
    registers: [registry],
    collect() {
      this.set(forwarder.stats().leader ? 1 : 0);
    },
  });
  logger.info(
    { target: settings.mqttUrl, api: settings.apiUrl, maxBacklog: settings.maxBacklog },
    'thingsboard bridge on',
  );
  return { feed, forwarder, close: () => forwarder.close() };
}
