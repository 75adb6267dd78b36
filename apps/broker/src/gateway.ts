/**
 * startGateway: the whole broker process in-process — the MQTT side of the device gateway
 * (the HTTP device API in apps/api is the other; both accept device messages through
 * @spms/telemetry's createDeviceIngress). aedes with SPMS's hooks, the TCP/TLS/WebSocket
 * listeners, the durable ingest producer, device authentication, the operator→device command
 * channel, and the health/metrics HTTP server. main.ts only parses the configuration and
 * handles signals. The process calls itself "broker" (logger name, metrics `spms_broker_*`,
 * BROKER_* settings); "gateway" in identifiers is the same thing.
 */
import { createPool, type Pool } from '@spms/db';
import {
  announceCredentialsChange,
  createDeviceAuthenticator,
  type DeviceAuthenticator,
  defineSharedAuthCommands,
} from '@spms/device-auth';
import { createLogger, type Logger } from '@spms/log';
import {
  createIngestProducer,
  createRedis,
  INGEST_QUEUE,
  type IngestProducer,
  startDurabilityMonitor,
} from '@spms/queue';
import { Aedes } from 'aedes';
import { Queue } from 'bullmq';
import { createAuthenticate, createPreConnect } from './authenticate.js';
import { authorizeForward } from './authorize-forward.js';
import { createAuthorizePublish } from './authorize-publish.js';
import { createAuthorizeSubscribe } from './authorize-subscribe.js';
import { createGuardedHandle } from './client-guards.js';
import { type CommandDelivery, startCommandDelivery } from './commands.js';
import type { BrokerConfig } from './config.js';
import type { GatewayClient, GatewayContext } from './context.js';
import { createDeviceRequests } from './device-requests.js';
import { createFirmwareServer } from './firmware.js';
import { startHttp } from './http.js';
import { startKeepaliveWheel } from './keepalive-wheel.js';
import { createBrokerLimiters } from './limits.js';
import type { Listener } from './listeners.js';
import { createMetrics } from './metrics.js';
import { openListeners } from './open-listeners.js';
import { trackOutgoing } from './outgoing-queue.js';
import { type SessionClaims, startSessionClaims } from './session-claims.js';
import { disconnectDevice, wireSessionEvents } from './sessions.js';
import { startStormCollector } from './storm-gc.js';

export type { BrokerConfig } from './config.js';

export interface Gateway {
  mqttPort: number;
  wsPort?: number;
  tlsPort?: number;
  httpPort: number;
  close(): Promise<void>;
}

function cachedQueueDepth(queue: Queue, ttlMs = 5000): () => Promise<Record<string, number>> {
  let at = 0;
  let value: Promise<Record<string, number>> | null = null;
  return () => {
    if (!value || Date.now() - at > ttlMs) {
      at = Date.now();
      value = queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'prioritized');
      value.catch(() => {
        value = null;
      });
    }
    return value;
  };
}

export async function startGateway(config: BrokerConfig, opts: { logger?: Logger } = {}): Promise<Gateway> {
  const logger = opts.logger ?? createLogger({ name: 'broker', level: config.LOG_LEVEL });
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  const closeAll = async () => {
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        logger.warn({ err }, 'error while closing');
      }
    }
    cleanups.length = 0;
  };

  try {
    const producer: IngestProducer = createIngestProducer({
      redisUrl: config.REDIS_URL,
      prefix: config.REDIS_PREFIX,
      maxBatch: config.INGEST_MAX_BATCH,
      maxDelayMs: config.INGEST_MAX_DELAY_MS,
      enqueueTimeoutMs: config.INGEST_ENQUEUE_TIMEOUT_MS,
      logger: logger.child({ component: 'ingest' }),
    });
    cleanups.push(() => producer.close());
    const auth: DeviceAuthenticator = await createDeviceAuthenticator({
      databaseUrl: config.DATABASE_URL,
      redisUrl: config.REDIS_URL,
      prefix: config.REDIS_PREFIX,
      cacheTtlMs: config.AUTH_CACHE_TTL_MS,
      // One pool thread stays free for DNS and file work (and the event loop's core for cached devices).
      verifyConcurrency: Math.max(1, Math.min(config.AUTH_VERIFY_CONCURRENCY, config.UV_THREADPOOL_SIZE - 1)),
      verifyQueueMax: config.AUTH_VERIFY_QUEUE_MAX,
      verifyMaxWaitMs: config.AUTH_VERIFY_MAX_WAIT_MS,
      ...(config.DEVICE_AUTH_CACHE_SECRET
        ? { shared: { secret: config.DEVICE_AUTH_CACHE_SECRET, ttlMs: config.DEVICE_AUTH_CACHE_TTL_SEC * 1000 } }
        : {}),
      logger: logger.child({ component: 'device-auth' }),
    });
    if (!config.DEVICE_AUTH_CACHE_SECRET)
      logger.warn(
        'DEVICE_AUTH_CACHE_SECRET is not set: verified credentials are cached per process only, so devices with supplied passwords are hashed again after every restart and every blackout longer than AUTH_CACHE_TTL_MS',
      );
    cleanups.push(() => auth.close());
    const pool: Pool = createPool(config.DATABASE_URL, {
      max: 4,
      applicationName: 'spms-broker',
      connectionTimeoutMs: 3000,
      statementTimeoutMs: 5000,
    });
    cleanups.push(() => pool.end());
    // No offline queue: a command on a broken connection fails now instead of piling up.
    const redisOpts = { maxRetriesPerRequest: 1, enableOfflineQueue: false, lazyConnect: true } as const;
    // Auto-pipelining: the commands issued in one tick leave in one write. A reconnect storm
    // issues a session claim, a command-inbox drain and a persistent-RPC requeue per device;
    // written one by one they were ~6 % of a warm storm's broker CPU (string writes).
    const redis = createRedis(config.REDIS_URL, { ...redisOpts, enableAutoPipelining: true });
    redis.on('error', () => {});
    // Scripts used on this connection are defined now, before any command (auto-pipelining:
    // a script defined at its first use can end the process; see defineSharedAuthCommands).
    defineSharedAuthCommands(redis);
    cleanups.push(() => redis.disconnect());
    const subscriber = createRedis(config.REDIS_URL, {
      ...redisOpts,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
    });
    subscriber.on('error', () => {});
    cleanups.push(() => subscriber.disconnect());
    await Promise.all([redis.connect(), subscriber.connect()]);
    // A PUBACK is only as durable as Redis' persistence: say so (or refuse) before listening.
    const durability = await startDurabilityMonitor({
      redis,
      logger: logger.child({ component: 'durability' }),
      require: config.REQUIRE_DURABLE_REDIS,
    });
    cleanups.push(() => durability.stop());
    const queue = new Queue(INGEST_QUEUE, {
      connection: redis.duplicate({ maxRetriesPerRequest: 1, enableAutoPipelining: false }),
      prefix: config.REDIS_PREFIX,
    });
    queue.on('error', () => {});
    cleanups.push(() => queue.close());

    let broker: Aedes | null = null;
    const metrics = createMetrics({
      connectedClients: () => broker?.connectedClients ?? 0,
      ingestStats: () => producer.stats(),
      queueDepth: cachedQueueDepth(queue),
      durability: () => durability.current(),
      authStats: () => auth.stats(),
    });
    // One full GC once a reconnect storm is over (storm-gc.ts).
    const stormGc = startStormCollector({
      minConnects: config.STORM_GC_MIN_CONNECTS,
      onCollected: (c) => {
        metrics.stormCollections.inc();
        metrics.stormCollectionSeconds.inc(c.seconds);
        const mib = (b: number) => Math.round(b / 2 ** 20);
        const ms = Math.round(c.seconds * 1000);
        logger.info(
          { connects: c.connects, ms, heapMiB: [mib(c.heapUsedBefore), mib(c.heapUsedAfter)] },
          'collected the garbage of a connect storm',
        );
        if (c.seconds > 1) logger.warn({ ms }, 'the post-storm collection paused the process over 1 s');
      },
      onError: (err) => logger.warn({ err }, 'post-storm garbage collection failed'),
    });
    cleanups.push(() => stormGc.close());
    if (!stormGc.available)
      logger.warn('no garbage collection function available: the garbage of connect storms stays until V8 collects it');
    const { limiters, close: closeLimiters } = createBrokerLimiters(redis, config);
    cleanups.push(closeLimiters);
    const ctx: GatewayContext = {
      config,
      logger,
      producer,
      auth,
      pool,
      metrics,
      ...limiters,
      announceCredentialsChange: (deviceId) => announceCredentialsChange(redis, config.REDIS_PREFIX, deviceId, logger),
      devices: new Map<string, GatewayClient>(),
      connectedClients: () => broker?.connectedClients ?? 0,
      claimSession: (client) => claims?.claim(client),
      connectAnswered: (accepted) => stormGc.noteConnect(accepted),
      releaseSession: (client) => claims?.release(client),
    };
    let claims: SessionClaims | undefined;

    const requests = createDeviceRequests(ctx, redis);
    const firmware = createFirmwareServer(ctx, redis);
    cleanups.push(() => firmware.close());
    broker = await Aedes.createBroker({
      preConnect: createPreConnect(ctx),
      authenticate: createAuthenticate(ctx),
      authorizePublish: createAuthorizePublish(ctx, requests, firmware),
      authorizeSubscribe: createAuthorizeSubscribe(ctx),
      authorizeForward,
      // A socket that sends no CONNECT is an unauthenticated one holding memory (4G modems
      // send it within a few seconds of the TCP handshake).
      connectTimeout: config.CONNECT_TIMEOUT_MS,
      // MQTT 3.1 capped client ids at 23 characters; ids are scoped by username here
      // (authenticate.ts), so the cap would refuse 3.1 devices with 0x02.
      maxClientsIdLength: 65_535,
    });
    const b = broker;
    // Before any client: which client ids ever had messages queued (aedes-connect.ts).
    if (!trackOutgoing((b as unknown as { persistence: unknown }).persistence))
      logger.warn('aedes persistence is not its in-memory default: clean sessions get the full outgoing-queue pass');
    // Closing runs in reverse: the listeners stop accepting first (below, not waited for), then
    // aedes closes every session, and only then are the listeners' closes awaited — a server's
    // close completes once its last connection has ended, which the sessions' close brings.
    let listenersClosed: Promise<unknown> = Promise.resolve();
    cleanups.push(() => listenersClosed);
    /** Sessions about to be closed are recorded as the server's doing, not lost links. */
    const markShutdown = () => {
      for (const client of ctx.devices.values()) if (client.spms) client.spms.closeReason = 'shutdown';
    };
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          markShutdown(); // again: devices may have connected since the listeners stopped
          b.close(() => resolve());
        }),
    );
    b.on('clientError', (client, err) => {
      const s = (client as GatewayClient).spms;
      logger.debug(
        { deviceId: s?.device.id, clientId: (client as GatewayClient).spmsClientId, err: err.message },
        'client error',
      );
    });
    b.on('connectionError', (_client, err) => {
      if (err.message === 'connect did not arrive in time') ctx.metrics.refused.inc({ reason: 'connect_timeout' });
      logger.debug({ err: err.message }, 'connection error before CONNECT');
    });
    (b as unknown as NodeJS.EventEmitter).on('error', (err: Error) => logger.error({ err }, 'broker error'));
    wireSessionEvents(ctx, b);
    // One sweep for every connection's keep-alive instead of a Timeout each (keepalive-wheel.ts).
    const keepalive = startKeepaliveWheel(b);
    cleanups.push(() => keepalive.close());
    auth.onInvalidate((deviceId) => {
      disconnectDevice(ctx, deviceId, 'credentials_changed');
    });
    // Cross-process state lives in Redis; pub/sub only wakes (session-claims.ts, commands.ts).
    let delivery: CommandDelivery | undefined;
    const sessionClaims = await startSessionClaims(ctx, redis, subscriber, {
      owned: (client, waiting) => delivery?.claimed(client, waiting),
      commands: (deviceId) => delivery?.drain(deviceId),
    });
    claims = sessionClaims;
    cleanups.push(() => sessionClaims.close());
    delivery = await startCommandDelivery(ctx, b, redis, subscriber, (client) => sessionClaims.ownerOf(client));

    const listeners: Listener[] = [];
    cleanups.push(() => {
      markShutdown(); // before the WebSocket listener's close ends its connections
      listenersClosed = Promise.all(listeners.map((l) => l.close()));
    });
    const handle = createGuardedHandle(ctx, b);
    const { tcp, tls, ws } = await openListeners(ctx, handle, listeners);
    const http = await startHttp({
      port: config.BROKER_HTTP_PORT,
      host: config.BROKER_HTTP_HOST,
      metrics,
      producer,
      pool,
      redis,
      durability: () => durability.current(),
    });
    cleanups.push(() => http.close());
    const httpAddr = http.server.address();
    const httpPort = typeof httpAddr === 'object' && httpAddr ? httpAddr.port : config.BROKER_HTTP_PORT;

    logger.info({ mqttPort: tcp.port, tlsPort: tls?.port, wsPort: ws?.port, httpPort }, 'broker listening');
    return {
      mqttPort: tcp.port,
      ...(tls ? { tlsPort: tls.port } : {}),
      ...(ws ? { wsPort: ws.port } : {}),
      httpPort,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
