/**
 * Provisioning and claiming end to end, over real sockets: an admin turns provisioning on for
 * a profile (PATCH /api/profiles over HTTP); a device provisions itself over MQTT
 * (`provision` session), connects with the token it got and reports a line that the worker
 * records; it then sends a claim request on v1/devices/me/claim, and a customer-scoped
 * operator claims it through the API with that secret.
 */
import { createLogger } from '@spms/log';
import type { FastifyInstance } from 'fastify';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../apps/api/src/app.js';
import { loadApiConfig } from '../../apps/api/src/config.js';
import { adminAuth, createKey, testEnv } from '../../apps/api/src/routes/users/access-fixtures.js';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
let stack: E2eStack;
let api: FastifyInstance;
let base: string;
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startE2eStack('e2e_provisioning', logger);
  api = await buildApp(loadApiConfig(testEnv(stack.db, stack.redis)));
  base = await api.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  await api?.close();
  await stack?.close();
});

async function http(method: string, path: string, body: unknown, headers: Record<string, string>) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

function connect(opts: mqtt.IClientOptions): Promise<MqttClient> {
  const c = mqtt.connect({
    host: '127.0.0.1',
    port: stack.gateway.mqttPort,
    protocolVersion: 4,
    reconnectPeriod: 0,
    ...opts,
  });
  clients.push(c);
  return new Promise((resolve, reject) => {
    c.once('connect', () => resolve(c));
    c.once('error', reject);
  });
}

/** Polls an eventually written row (the worker and the broker write asynchronously). */
async function until<T>(fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error('not written in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('provisioning and claiming end to end', () => {
  it('provisions over MQTT, records telemetry, and is claimed by an operator with the device secret', async () => {
    const settings = await http(
      'PATCH',
      '/api/profiles/SPMS',
      {
        provisioning: {
          strategy: 'allow_create',
          key: 'e2e-prov-key',
          secret: 'e2e-provision-secret',
          region: 'North',
        },
      },
      adminAuth,
    );
    expect(settings.status).toBe(200);

    const prov = await connect({ clientId: 'factory-0001', username: 'provision' });
    await prov.subscribeAsync('/provision/response', { qos: 1 });
    const answer = new Promise<Record<string, unknown>>((resolve) =>
      prov.once('message', (_t, payload) => resolve(JSON.parse(payload.toString()))),
    );
    await prov.publishAsync(
      '/provision/request',
      JSON.stringify({
        deviceName: 'E2E_PROV_1',
        provisionDeviceKey: 'e2e-prov-key',
        provisionDeviceSecret: 'e2e-provision-secret',
      }),
      { qos: 1 },
    );
    const response = await answer;
    expect(response).toMatchObject({ status: 'SUCCESS', credentialsType: 'ACCESS_TOKEN' });
    await prov.endAsync();

    const device = await connect({ clientId: 'e2e-prov-1', username: response.credentialsValue as string });
    await device.publishAsync('v1/devices/me/telemetry', "{'3':'false'}", { qos: 1 });
    const { rows } = await stack.sql.query<{ id: string; region: string }>(
      `SELECT id, region FROM devices WHERE name = 'E2E_PROV_1'`,
    );
    const id = rows[0]?.id as string;
    expect(rows[0]?.region).toBe('North');
    const line = await until(async () => {
      const r = await stack.sql.query('SELECT powered FROM line_state WHERE device_id = $1 AND line = 3', [id]);
      return r.rows[0] as { powered: boolean } | undefined;
    });
    expect(line.powered).toBe(false);

    await device.publishAsync('v1/devices/me/claim', JSON.stringify({ secretKey: 'e2e-claim', durationMs: 600000 }), {
      qos: 1,
    });
    await until(async () => {
      const r = await stack.sql.query('SELECT 1 FROM device_claims WHERE device_id = $1', [id]);
      return r.rowCount ? true : undefined;
    });
    const acme = await createKey(api, {
      name: 'acme-north',
      role: 'operator',
      regions: ['North'],
      customers: ['Acme'],
    });
    const as = { authorization: `Bearer ${acme.key}` };
    expect((await http('POST', '/api/devices/E2E_PROV_1/claim', { secretKey: 'nope' }, as)).status).toBe(404);
    const claimed = await http('POST', '/api/devices/E2E_PROV_1/claim', { secretKey: 'e2e-claim' }, as);
    expect(claimed).toMatchObject({ status: 200, body: { name: 'E2E_PROV_1', customer: 'Acme', region: 'North' } });
    // Now in the customer-scoped operator's own view.
    const seen = await fetch(`${base}/api/devices/E2E_PROV_1`, { headers: as });
    expect(seen.status).toBe(200);
  });
});
