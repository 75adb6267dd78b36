/**
 * The system as the end-to-end tests run it: the real gateway and worker in-process
 * against one fresh test database and Redis prefix (alerts off: these tests are about
 * outages), plus registration of a device with MQTT Basic credentials as the registry
 * stores them.
 */
import { randomUUID } from 'node:crypto';
import { credentialsKey, hashSecret } from '@spms/credentials';
import { SerialClient } from '@spms/db';
import type { Logger } from '@spms/log';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type pg from 'pg';
import { loadBrokerConfig } from '../../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../../apps/broker/src/gateway.js';
import { loadWorkerConfig } from '../../../apps/worker/src/config.js';
import { startWorker } from '../../../apps/worker/src/worker.js';

export interface BasicCredentials {
  clientId: string;
  username: string;
  password: string;
}

export interface E2eStack {
  db: TestDatabase;
  redis: TestRedis;
  /** A connection to the test database, for assertions. */
  sql: pg.Client;
  gateway: Gateway;
  /** Inserts a device (profile SPMS) with these credentials; returns its id. */
  addMqttDevice(name: string, creds: BasicCredentials): Promise<string>;
  close(): Promise<void>;
}

export async function startE2eStack(label: string, logger: Logger): Promise<E2eStack> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  // Tests query it concurrently (devices added in parallel): SerialClient sends one at a time.
  const sql = new SerialClient({ connectionString: db.url });
  await sql.connect();
  const common = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  const gateway = await startGateway(
    loadBrokerConfig({
      ...common,
      MQTT_HOST: '127.0.0.1',
      MQTT_PORT: '0',
      BROKER_HTTP_HOST: '127.0.0.1',
      BROKER_HTTP_PORT: '0',
    }),
    { logger },
  );
  const worker = await startWorker(loadWorkerConfig(common), { logger });
  return {
    db,
    redis,
    sql,
    gateway,
    addMqttDevice: (name, creds) => insertMqttDevice(sql, name, creds),
    async close() {
      await gateway.close();
      await worker.close();
      await sql.end();
      await redis.cleanup();
      await db.drop();
    },
  };
}

/** Registers a device of the default MQTT profile with MQTT Basic credentials, as the registry does. */
export async function insertMqttDevice(
  sql: pg.Client,
  name: string,
  creds: { clientId: string; username: string; password: string },
): Promise<string> {
  const id = randomUUID();
  await sql.query(
    `INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, '00000000-0000-4000-8000-000000000001', now())`,
    [id, name],
  );
  await sql.query(
    `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
     VALUES ($1, 'MQTT_BASIC', $2, $3, $4, $5, now())`,
    [
      id,
      credentialsKey({ type: 'MQTT_BASIC', ...creds }),
      creds.clientId,
      creds.username,
      await hashSecret(creds.password, 'generated'),
    ],
  );
  return id;
}
