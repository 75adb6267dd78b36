/** The benchmarks' own database and Redis prefix (BENCH_DATABASE_URL, BENCH_REDIS_URL). */
export * as bench from './bench-env.js';
export { createTestDatabase, type TestDatabase } from './database.js';
export { readIngestBatches } from './ingest-batches.js';
export { freePort, portFree, sliceOf } from './ports.js';
export { createTestRedis, deleteKeys, type TestRedis } from './redis.js';
export { type PrivateRedis, type PrivateRedisOptions, startPrivateRedis } from './redis-server.js';
export { type SinkMessage, type SmtpSink, startSmtpSink } from './smtp-sink.js';
export { createTcpProxy, type TcpProxy } from './tcp-proxy.js';
