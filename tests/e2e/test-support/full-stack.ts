/**
 * Gateway, worker, alerts and API in-process on one test database and a given Redis (URL and
 * key prefix), each process's /metrics served over real HTTP on a free loopback port, plus a
 * device that connects with MQTT Basic credentials and publishes the firmware's payloads.
 * Used by the metrics-conventions and Redis-key-layout tests. The alerts process's processors
 * run only when `env.alerts` sets ALERTS_ENABLED=true; its /metrics is served either way.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SerialClient } from '@spms/db';
import { createLogger } from '@spms/log';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import type pg from 'pg';
import { type RunningAlerts, startAlerts } from '../../../apps/alerts/src/alerts.js';
import { loadAlertsConfig } from '../../../apps/alerts/src/config.js';
import { createAlertsMetrics, serveMetrics as serveAlertsMetrics } from '../../../apps/alerts/src/metrics.js';
import { buildApp } from '../../../apps/api/src/app.js';
import { loadApiConfig } from '../../../apps/api/src/config.js';
import { serveApiMetrics } from '../../../apps/api/src/plugins/metrics.js';
import { loadBrokerConfig } from '../../../apps/broker/src/config.js';
import { type Gateway, startGateway } from '../../../apps/broker/src/gateway.js';
import { loadWorkerConfig } from '../../../apps/worker/src/config.js';
import { serveMetrics } from '../../../apps/worker/src/metrics.js';
import { type RunningWorker, startWorker } from '../../../apps/worker/src/worker.js';
import { insertMqttDevice } from './stack.js';

export const ADMIN_KEY = 'full-stack-admin-key-0123456789';

export interface FullStack {
  db: TestDatabase;
  sql: pg.Client;
  gateway: Gateway;
  worker: RunningWorker;
  alerts: RunningAlerts;
  api: FastifyInstance;
  /** /metrics URLs of the broker, the worker, the alerts process and the API. */
  metricsUrls: { broker: string; worker: string; alerts: string; api: string };
  /** Registers a device with MQTT Basic credentials and connects it as the firmware does. */
  connectDevice(name: string): Promise<{ id: string; client: MqttClient }>;
  close(): Promise<void>;
}

const port = (s: Server) => (s.address() as AddressInfo).port;

export async function startFullStack(
  label: string,
  redis: { url: string; prefix: string },
  env: {
    broker?: Record<string, string>;
    worker?: Record<string, string>;
    alerts?: Record<string, string>;
    api?: Record<string, string>;
  } = {},
): Promise<FullStack> {
  const logger = createLogger({ name: label, level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const db = await createTestDatabase(label);
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
      ...env.broker,
    }),
    { logger },
  );
  const worker = await startWorker(loadWorkerConfig({ ...common, ...env.worker }), { logger });
  const workerHttp = await serveMetrics(worker.metrics.registry, 0, '127.0.0.1');
  const alerts = await startAlerts(loadAlertsConfig({ ...common, ALERTS_ENABLED: 'false', ...env.alerts }), { logger });
  const alertsHttp = await serveAlertsMetrics(createAlertsMetrics().registry, 0, '127.0.0.1');
  const api = await buildApp(
    loadApiConfig({ ...common, SPMS_ADMIN_API_KEY: ADMIN_KEY, REPORT_SCHEDULE: 'false', ...env.api }),
    {
      logger,
    },
  );
  const apiHttp = await serveApiMetrics(api.metrics.registry, 0, '127.0.0.1');
  const clients: MqttClient[] = [];
  return {
    db,
    sql,
    gateway,
    worker,
    alerts,
    api,
    metricsUrls: {
      broker: `http://127.0.0.1:${gateway.httpPort}/metrics`,
      worker: `http://127.0.0.1:${port(workerHttp)}/metrics`,
      alerts: `http://127.0.0.1:${port(alertsHttp)}/metrics`,
      api: `http://127.0.0.1:${port(apiHttp)}/metrics`,
    },
    async connectDevice(name) {
      const creds = { clientId: `${name}-cid`, username: `${name}-user`, password: `${name}-pw` };
      const id = await insertMqttDevice(sql, name, creds);
      const client = mqtt.connect({
        host: '127.0.0.1',
        port: gateway.mqttPort,
        protocolVersion: 4,
        clientId: creds.clientId,
        username: creds.username,
        password: creds.password,
        reconnectPeriod: 0,
      });
      clients.push(client);
      await new Promise((resolve, reject) => client.once('connect', resolve).once('error', reject));
      return { id, client };
    },
    async close() {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      apiHttp.close();
      workerHttp.close();
      alertsHttp.close();
      await api.close();
      await gateway.close();
      await alerts.close();
      await worker.close();
      await sql.end();
      await db.drop();
    },
  };
}

export async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
