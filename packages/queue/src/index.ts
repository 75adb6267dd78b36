export {
  attributePushExpiry,
  liveCommands,
  ownerGateway,
  relayRpcResponse,
  runScript,
  type Script,
  type SendResult,
  script,
  sendDeviceCommand,
  takeDeviceCommands,
} from './command-store.js';
export * from './commands.js';
export * from './contracts.js';
export { type Admission, createDownloadSlots, type DownloadSlots, WAITER_STALE_MS } from './download-slots.js';
export {
  assessDurability,
  type DurabilityAssessment,
  describeDurabilityRefusal,
  type RedisPersistenceSettings,
} from './durability-assess.js';
export {
  checkRedisDurability,
  type DurabilityMonitor,
  type DurabilityReport,
  DurabilityRequiredError,
  readRedisPersistence,
  startDurabilityMonitor,
} from './durability-monitor.js';
export * from './email.js';
export { IMPORTED_MESSAGE_ID_PREFIX, isImportedMessageId, newMessageId, receivedAtOfMessageId } from './ids.js';
export {
  createIngestProducer,
  type IngestProducer,
  type IngestProducerOptions,
  IngestRejectedError,
  type IngestStats,
  IngestUnavailableError,
} from './ingest-producer.js';
export { LATENCY_BUCKETS_MS, type LatencySnapshot } from './latency.js';
export { registerIngestMetrics, registerProcessMetrics, registerRedisDurableGauge } from './metrics.js';
export { serveMetricsHttp, serveMetricsUntilSignal } from './metrics-server.js';
export { type IngestQueueOptions, ingestQueueOptions } from './options.js';
export { createRedis } from './redis-connection.js';
export {
  isHashTagged,
  parseRedisUrl,
  type RedisNode,
  type RedisTarget,
  redact as redactRedisUrl,
  redisLayoutProblem,
} from './redis-url.js';
export * from './tb-bridge.js';
export { defineTokenBucket, type TokenVerdict, takeToken } from './token-bucket.js';
