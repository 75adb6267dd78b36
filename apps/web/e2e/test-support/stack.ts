/**
 * The whole product in one process for browser tests: a fresh database and Redis prefix,
 * the MQTT gateway (broker), the worker and the API serving a fresh Vite build of the
 * dashboard, plus a Debian chromium driven by playwright-core.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '@spms/config';
import { createLogger } from '@spms/log';
import { createTestDatabase, createTestRedis, type TestDatabase, type TestRedis } from '@spms/testing';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { type Browser, chromium } from 'playwright-core';
import { build } from 'vite';
import { AlertsConfigSchema, startAlerts } from '../../../alerts/src/alerts.js';
import { buildApp } from '../../../api/src/app.js';
import { loadApiConfig } from '../../../api/src/config.js';
import { loadBrokerConfig } from '../../../broker/src/config.js';
import { type Gateway, startGateway } from '../../../broker/src/gateway.js';
import { loadWorkerConfig } from '../../../worker/src/config.js';
import { type RunningWorker, startWorker } from '../../../worker/src/worker.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const ADMIN_KEY = 'e2e-admin-key-0123456789abcdef';
const webRoot = fileURLToPath(new URL('../..', import.meta.url));

export interface Stack {
  db: TestDatabase;
  redis: TestRedis;
  gateway: Gateway;
  worker: RunningWorker;
  api: FastifyInstance;
  baseUrl: string;
  browser: Browser;
  /** Calls the API as the admin key (or with `token`). */
  call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: unknown }>;
  device(clientId: string, username: string, password: string): Promise<MqttClient>;
  close(): Promise<void>;
}

export async function startStack(label: string): Promise<Stack> {
  // Build the dashboard from the current sources into a folder of this stack's own: test
  // files run in parallel, and rebuilding the shared apps/web/dist under another file's API
  // (or under a test that reads /config.json) made them fail.
  const outDir = await mkdtemp(join(tmpdir(), `spms-web-${label}-`));
  await build({ root: webRoot, logLevel: 'silent', build: { outDir, emptyOutDir: true } });
  const db = await createTestDatabase(label);
  const redis = createTestRedis(label);
  const base = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: 'silent' };
  const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  const closers: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {});
  };
  try {
    closers.push(
      () => rm(outDir, { recursive: true, force: true }),
      () => db.drop(),
      () => redis.cleanup(),
    );
    const gateway = await startGateway(
      loadBrokerConfig({
        ...base,
        MQTT_HOST: '127.0.0.1',
        MQTT_PORT: '0',
        BROKER_HTTP_HOST: '127.0.0.1',
        BROKER_HTTP_PORT: '0',
      }),
      { logger },
    );
    closers.push(() => gateway.close());
    const worker = await startWorker(loadWorkerConfig({ ...base, WORKER_CONCURRENCY: '2', WORKER_DB_POOL: '4' }), {
      logger,
    });
    closers.push(() => worker.close());
    // Alerts with the console SMS provider; no debounce or grouping wait, so a drop alerts at once.
    const alertsConfig = parseConfig(AlertsConfigSchema, {
      ALERT_DEBOUNCE_MS: '0',
      ALERT_GROUP_WINDOW_MS: '0',
      ALERT_CONCURRENCY: '2',
    });
    const alerts = await startAlerts({ ...alertsConfig, ...base }, { logger });
    closers.push(() => alerts.close());
    const api = await buildApp(loadApiConfig({ ...base, SPMS_ADMIN_API_KEY: ADMIN_KEY }), { logger, webRoot: outDir });
    closers.push(() => api.close());
    await api.listen({ host: '127.0.0.1', port: 0 });
    const addr = api.server.address();
    const baseUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--no-first-run',
      ],
    });
    closers.push(() => browser.close());
    const clients: MqttClient[] = [];
    closers.push(async () => {
      await Promise.all(clients.map((c) => c.endAsync(true)));
    });
    return {
      db,
      redis,
      gateway,
      worker,
      api,
      baseUrl,
      browser,
      async call(method, path, body, token = ADMIN_KEY) {
        const res = await fetch(`${baseUrl}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        return { status: res.status, body: parsed };
      },
      async device(clientId, username, password) {
        const c = await mqtt.connectAsync({
          host: '127.0.0.1',
          port: gateway.mqttPort,
          clientId,
          username,
          password,
          protocolVersion: 4,
          reconnectPeriod: 0,
        });
        clients.push(c);
        return c;
      },
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}
