/**
 * Test harness: a real gateway (TCP, optional TLS/WebSocket) on free ports, against its own
 * PostgreSQL database and Redis prefix, plus helpers to register devices the way the
 * registry does and to read back what reached the ingest queue.
 */
import { randomUUID } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';
import { type CredentialsInput, credentialsKey, hashSecret } from '@spms/credentials';
import { createLogger } from '@spms/log';
import { credentialsChangedChannel, INGEST_QUEUE, type IngestBatch, type IngestMessage } from '@spms/queue';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import pg from 'pg';
import { type BrokerConfig, loadBrokerConfig } from '../config.js';
import { type Gateway, startGateway } from '../gateway.js';

const PROFILE_ID = '00000000-0000-4000-8000-0000000000b1';

export interface Harness {
  gateway: Gateway;
  config: BrokerConfig;
  db: TestDatabase;
  redis: TestRedis;
  sql: pg.Client;
  addDevice(name: string, creds: CredentialsInput): Promise<string>;
  setCredentials(deviceId: string, creds: CredentialsInput): Promise<void>;
  announceCredentialsChanged(deviceId: string): Promise<void>;
  /** Collects the device ids announced on the credentials-changed channel from now on. */
  listenCredentialsChanged(): Promise<{ ids: string[]; close(): Promise<void> }>;
  /** Every message in the ingest queue, in receive order (ids are time-sortable). */
  queued(): Promise<IngestMessage[]>;
  /** Remembers what is queued now; the returned function lists what was queued since. */
  mark(): Promise<() => Promise<IngestMessage[]>>;
  connect(opts: IClientOptions & { port?: number; protocol?: 'mqtt' | 'mqtts' | 'ws' }): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startHarness(
  label: string,
  env: Record<string, string> = {},
  /** The broker's database address from the test database's (e.g. through a TCP proxy). */
  brokerDatabaseUrl: (url: string) => string = (url) => url,
): Promise<Harness> {
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const config = loadBrokerConfig({
    DATABASE_URL: brokerDatabaseUrl(db.url),
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    MQTT_HOST: '127.0.0.1',
    MQTT_PORT: '0',
    BROKER_HTTP_HOST: '127.0.0.1',
    BROKER_HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    ...env,
  });
  const logger = createLogger({ name: 'broker-test', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const gateway = await startGateway(config, { logger });
  const sql = new pg.Client({ connectionString: db.url });
  await sql.connect();
  await sql.query(
    `INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'broker-test', now()) ON CONFLICT DO NOTHING`,
    [PROFILE_ID],
  );
  const queueConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
  queueConnection.on('error', () => {});
  const queue = new Queue(INGEST_QUEUE, { connection: queueConnection, prefix: redis.prefix });
  queue.on('error', () => {});
  const clients: MqttClient[] = [];

  async function setCredentials(deviceId: string, creds: CredentialsInput): Promise<void> {
    const basic = creds.type === 'MQTT_BASIC' ? creds : null;
    await sql.query(
      `INSERT INTO device_credentials (device_id, type, credentials_id, client_id, username, password_hash, updated_at)
       VALUES ($1, $2::"CredentialsType", $3, $4, $5, $6, now())
       ON CONFLICT (device_id) DO UPDATE SET type = EXCLUDED.type, credentials_id = EXCLUDED.credentials_id,
         client_id = EXCLUDED.client_id, username = EXCLUDED.username, password_hash = EXCLUDED.password_hash`,
      [
        deviceId,
        creds.type,
        credentialsKey(creds),
        basic?.clientId ?? null,
        basic?.username ?? null,
        basic?.password ? await hashSecret(basic.password, 'generated') : null,
      ],
    );
  }

  async function queued(): Promise<IngestMessage[]> {
    const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized']);
    const messages = jobs.flatMap((j) => (j.data as IngestBatch).messages);
    return messages.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  return {
    gateway,
    config,
    db,
    redis,
    sql,
    setCredentials,
    async addDevice(name, creds) {
      const id = randomUUID();
      await sql.query('INSERT INTO devices (id, name, profile_id, updated_at) VALUES ($1, $2, $3, now())', [
        id,
        name,
        PROFILE_ID,
      ]);
      await setCredentials(id, creds);
      return id;
    },
    async announceCredentialsChanged(deviceId) {
      const pub = new Redis(redis.url);
      await pub.publish(credentialsChangedChannel(redis.prefix), deviceId);
      pub.disconnect();
    },
    async listenCredentialsChanged() {
      const sub = new Redis(redis.url);
      const ids: string[] = [];
      sub.on('message', (_channel: string, deviceId: string) => ids.push(deviceId));
      await sub.subscribe(credentialsChangedChannel(redis.prefix));
      return {
        ids,
        async close() {
          sub.disconnect();
        },
      };
    },
    async queued() {
      return queued();
    },
    async mark() {
      const seen = new Set((await queued()).map((m) => m.id));
      return async () => (await queued()).filter((m) => !seen.has(m.id));
    },
    connect(opts) {
      const { port, protocol = 'mqtt', ...rest } = opts;
      const p =
        port ?? (protocol === 'ws' ? gateway.wsPort : protocol === 'mqtts' ? gateway.tlsPort : gateway.mqttPort);
      const client = mqtt.connect({
        host: '127.0.0.1',
        port: p,
        protocol,
        protocolVersion: 4,
        reconnectPeriod: 0,
        connectTimeout: 5000,
        ...rest,
      });
      clients.push(client);
      return new Promise((resolve, reject) => {
        client.once('connect', () => resolve(client));
        client.once('error', reject);
      });
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await gateway.close();
      await queue.close();
      queueConnection.disconnect();
      await sql.end();
      await redis.cleanup();
      await db.drop();
    },
  };
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The bytes of an MQTT 3.1.1 CONNECT (clean session, keep-alive 60 s), for tests that write to a raw socket. */
export function connectPacket(clientId: string, username: string, password?: string): Buffer {
  return mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    clientId,
    username,
    ...(password === undefined ? {} : { password: Buffer.from(password) }),
  });
}

/** A raw TCP socket to a broker port that notes when it opened and when it closed. */
export type TimedSocket = Socket & { openedAt: number; closedAt?: number };
export function openTimedSocket(port: number): Promise<TimedSocket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1', () => resolve(sock)) as TimedSocket;
    sock.openedAt = Date.now();
    sock.on('error', reject);
    sock.on('close', () => {
      sock.closedAt = Date.now();
    });
  });
}

/** One line of the gateway's /metrics (`name{labels} `), 0 when absent. */
export async function gatewayMetric(h: Harness, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${h.gateway.httpPort}/metrics`)).text();
  const found = text.split('\n').find((l) => l.startsWith(line));
  return found ? Number(found.slice(line.length).trim()) : 0;
}
