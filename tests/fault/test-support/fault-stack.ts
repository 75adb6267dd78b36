/**
 * The system as separate processes, the way it is deployed, for fault injection: broker,
 * worker and API as child processes (built entry points) against one fresh test database
 * and a PRIVATE redis-server (AOF on, its own port and directory) that the test may kill.
 * Optionally the apps reach PostgreSQL through a TCP proxy the test can cut; the test's own
 * assertions always go straight to the database.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { credentialsKey } from '@spms/credentials';
import { INGEST_QUEUE, ingestQueueOptions } from '@spms/queue';
import {
  createTcpProxy,
  createTestDatabase,
  freePort,
  type PrivateRedis,
  startPrivateRedis,
  type TcpProxy,
  type TestDatabase,
} from '@spms/testing';
import { Queue } from 'bullmq';
import pg from 'pg';
import { type AppName, type AppProcess, createAppProcess, ensureBuilt, httpReady } from './app-process.js';

/** What the fault matrix runs Redis with: the compose file's setting (survives a process crash). */
export const REDIS_APPENDFSYNC = 'everysec' as const;

export interface FaultDevice {
  id: string;
  token: string;
}

export interface FaultStack {
  db: TestDatabase;
  redis: PrivateRedis;
  /** Between the apps and PostgreSQL when asked for. */
  pgProxy?: TcpProxy;
  /** The test's own connection (never through the proxy). */
  sql: pg.Pool;
  apps: Partial<Record<AppName, AppProcess>>;
  mqttPort: number;
  apiUrl: string;
  /** Registers `n` devices with access tokens (MQTT username, or the HTTP device API's token). */
  addDevices(n: number, transport: 'mqtt' | 'http'): Promise<FaultDevice[]>;
  /** Ingest jobs not yet done: waiting, active, delayed (retrying), prioritized. */
  queueDepth(): Promise<number>;
  close(): Promise<void>;
}

export interface FaultStackOptions {
  apps: AppName[];
  proxyPostgres?: boolean;
}

const PROFILE = { mqtt: '00000000-0000-4000-8000-000000000001', http: '00000000-0000-4000-8000-000000000002' };

export async function startFaultStack(label: string, opts: FaultStackOptions): Promise<FaultStack> {
  ensureBuilt(opts.apps);
  const db = await createTestDatabase(label);
  const redis = await startPrivateRedis({ appendfsync: REDIS_APPENDFSYNC });
  const prefix = `spmstest:${label}:${randomBytes(5).toString('hex')}`;
  let pgProxy: TcpProxy | undefined;
  let appDbUrl = db.url;
  if (opts.proxyPostgres) {
    const target = new URL(db.url);
    pgProxy = createTcpProxy(await freePort(), { host: target.hostname, port: Number(target.port || 5432) });
    await pgProxy.open();
    target.port = String(pgProxy.port);
    appDbUrl = target.toString();
  }
  const sql = new pg.Pool({ connectionString: db.url, max: 3 });
  sql.on('error', () => {});
  const queueOpts = ingestQueueOptions(prefix);
  const queue = new Queue(INGEST_QUEUE, { connection: { url: redis.url }, prefix: queueOpts.prefix });
  queue.on('error', () => {});

  const [mqttPort, brokerHttpPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const common = { DATABASE_URL: appDbUrl, REDIS_URL: redis.url, REDIS_PREFIX: prefix };
  const apps: Partial<Record<AppName, AppProcess>> = {};
  const make: Record<AppName, () => AppProcess> = {
    broker: () =>
      createAppProcess(
        'broker',
        {
          ...common,
          MQTT_HOST: '127.0.0.1',
          MQTT_PORT: String(mqttPort),
          BROKER_HTTP_HOST: '127.0.0.1',
          BROKER_HTTP_PORT: String(brokerHttpPort),
          // Every simulated device connects from 127.0.0.1, and reconnects after each fault.
          CONNECT_RATE_PER_IP: '0',
          AUTH_FAILURES_PER_IP: '0',
        },
        httpReady(`http://127.0.0.1:${brokerHttpPort}/readyz`),
      ),
    // A killed worker's jobs return when their lock expires: 2 s instead of 30.
    worker: () =>
      createAppProcess('worker', {
        ...common,
        WORKER_LOCK_MS: '2000',
        WORKER_HTTP_HOST: '127.0.0.1',
        WORKER_HTTP_PORT: '0',
      }),
    api: () =>
      createAppProcess(
        'api',
        { ...common, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(apiPort), API_METRICS_PORT: '0' },
        httpReady(`http://127.0.0.1:${apiPort}/readyz`),
      ),
  };
  const stack: FaultStack = {
    db,
    redis,
    ...(pgProxy ? { pgProxy } : {}),
    sql,
    apps,
    mqttPort,
    apiUrl: `http://127.0.0.1:${apiPort}`,
    async addDevices(n, transport) {
      const devices = Array.from({ length: n }, () => ({ id: randomUUID(), token: randomBytes(12).toString('hex') }));
      await sql.query(
        `INSERT INTO devices (id, name, profile_id, updated_at)
         SELECT id, 'fault_' || left(id::text, 8), $2, now() FROM unnest($1::uuid[]) AS id`,
        [devices.map((d) => d.id), PROFILE[transport]],
      );
      await sql.query(
        `INSERT INTO device_credentials (device_id, type, credentials_id, updated_at)
         SELECT id, 'ACCESS_TOKEN', k, now() FROM unnest($1::uuid[], $2::text[]) AS x(id, k)`,
        [devices.map((d) => d.id), devices.map((d) => credentialsKey({ type: 'ACCESS_TOKEN', token: d.token }))],
      );
      return devices;
    },
    async queueDepth() {
      const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
      return Object.values(c).reduce((a, b) => a + b, 0);
    },
    async close() {
      for (const app of Object.values(apps)) await app.stop().catch(() => undefined);
      await queue.close().catch(() => undefined);
      await sql.end().catch(() => undefined);
      await pgProxy?.cut();
      await redis.destroy();
      await db.drop();
    },
  };
  try {
    for (const name of opts.apps) {
      const app = make[name]();
      apps[name] = app;
      await app.start();
    }
  } catch (err) {
    await stack.close().catch(() => undefined);
    throw err;
  }
  return stack;
}
