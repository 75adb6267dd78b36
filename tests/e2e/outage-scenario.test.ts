/**
 * End to end: a real MQTT client (the firmware's credentials and payloads) → the gateway
 * (apps/broker) → the ingest queue → the worker (apps/worker) → PostgreSQL, plus the live
 * events channel. Both apps run in-process against one test database and Redis prefix.
 */
import { readFileSync } from 'node:fs';
import { domainEventsChannel } from '@spms/contracts';
import { createLogger } from '@spms/log';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

// The firmware's byte-exact test vectors (repository fixtures/).
const fixture = JSON.parse(readFileSync(new URL('../../fixtures/mqtt-firmware.json', import.meta.url), 'utf8')) as {
  scenario: { events: { t: number; payload: string }[] };
};
const logger = createLogger({ name: 'e2e', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });

let stack: E2eStack;
let sql: E2eStack['sql'];
let gateway: E2eStack['gateway'];
let sub: Redis;
const events: { type: string; deviceId: string }[] = [];
const clients: MqttClient[] = [];

beforeAll(async () => {
  stack = await startE2eStack('e2e', logger);
  ({ sql, gateway } = stack);
  sub = new Redis(stack.redis.url);
  await sub.subscribe(domainEventsChannel(stack.redis.prefix));
  sub.on('message', (_c, text: string) => events.push(JSON.parse(text)));
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
  sub?.disconnect();
  await stack?.close();
});

/** Registers a device with MQTT Basic credentials, as the registry does, and connects as the firmware. */
async function connectDevice(name: string): Promise<{ id: string; client: MqttClient }> {
  const creds = { clientId: `${name}-cid`, username: `${name}-user`, password: `${name}-pw` };
  const id = await stack.addMqttDevice(name, creds);
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
}

async function until<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const closedOutages = async (deviceId: string) =>
  (
    await sql.query(
      `SELECT line, (extract(epoch from started_at) * 1000)::float8 AS s, (extract(epoch from ended_at) * 1000)::float8 AS e,
              duration_ms::float8 AS d FROM outages WHERE device_id = $1 ORDER BY started_at`,
      [deviceId],
    )
  ).rows;

describe('outage scenario end to end', () => {
  it('the fixture session, time-compressed with ThingsBoard {"ts","values"} payloads: one 305 s outage on line 3', async () => {
    const { id, client } = await connectDevice('e2e_ts');
    const base = Date.now() - 3_600_000;
    for (const e of fixture.scenario.events) {
      // The firmware's own values (single-quoted), re-sent in ThingsBoard's timestamped form.
      const values = e.payload.replaceAll("'", '"');
      await client.publishAsync(
        'v1/devices/me/telemetry',
        `{"ts":${base + Math.round(e.t * 1000)},"values":${values}}`,
        {
          qos: 1,
        },
      );
    }
    const rows = await until(async () => {
      const r = await closedOutages(id);
      return r.length > 0 && r.every((o) => o.e !== null) ? r : null;
    });
    expect(rows.map((o) => ({ line: o.line, s: Math.round(o.s) - base, e: Math.round(o.e) - base, d: o.d }))).toEqual([
      { line: 3, s: 95_000, e: 400_000, d: 305_000 },
    ]);
    const lines = await sql.query('SELECT count(*)::int AS n FROM line_state WHERE device_id = $1 AND powered', [id]);
    expect(lines.rows[0].n).toBe(8);
  });

  it("the firmware's exact single-quote payloads in real time: outage opened, closed, announced live; a dropped socket shows at once", async () => {
    const { id, client } = await connectDevice('e2e_rt');
    for (let line = 1; line <= 8; line++)
      await client.publishAsync('v1/devices/me/telemetry', `{'${line}':'true'}`, { qos: 1 });
    await client.publishAsync('v1/devices/me/telemetry', "{'V':229.4}", { qos: 1 });
    await new Promise((r) => setTimeout(r, 300));
    await client.publishAsync('v1/devices/me/telemetry', "{'3':'false'}", { qos: 1 });
    await until(async () => events.some((e) => e.deviceId === id && e.type === 'outage.opened'));
    await new Promise((r) => setTimeout(r, 1500));
    await client.publishAsync('v1/devices/me/telemetry', "{'3':'true'}", { qos: 1 });
    const rows = await until(async () => {
      const r = await closedOutages(id);
      return r.length === 1 && r[0].e !== null ? r : null;
    });
    expect(rows[0].line).toBe(3);
    // Receive time is event time for this firmware: the outage lasts about the 1.5 s pause.
    expect(rows[0].d).toBeGreaterThanOrEqual(1500);
    expect(rows[0].d).toBeLessThan(5000);
    await until(async () => events.some((e) => e.deviceId === id && e.type === 'outage.closed'));
    expect(events.filter((e) => e.deviceId === id && e.type.startsWith('outage.')).map((e) => e.type)).toEqual([
      'outage.opened',
      'outage.closed',
    ]);
    // The modem drops the TCP connection without DISCONNECT.
    client.stream.destroy();
    const state = await until(async () => {
      const r = await sql.query('SELECT connection, active FROM device_state WHERE device_id = $1', [id]);
      return r.rows[0]?.connection === 'lost' ? r.rows[0] : null;
    }, 10_000);
    expect(state).toEqual({ connection: 'lost', active: true });
  });
});
