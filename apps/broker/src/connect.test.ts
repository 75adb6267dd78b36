/**
 * CONNECT as a ThingsBoard device experiences it (CONNACK codes), one session per device,
 * protocol versions and the per-address limits.
 */
import { createServer } from 'node:net';
import { createLogger } from '@spms/log';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway } from './gateway.js';
import { type Harness, startHarness } from './test-support/harness.js';

let h: Harness;
const basic = { type: 'MQTT_BASIC' as const, clientId: 'msan-0001', username: 'u-0001', password: 'secret-0001' };

beforeAll(async () => {
  // A low failed-auth allowance so the throttling is visible within the test.
  h = await startHarness('broker_connect', {
    AUTH_FAILURES_PER_IP: '4',
    DEVICE_MSG_RATE: '1',
    DEVICE_MSG_BURST: '3',
    INVALID_PAYLOAD_ACTION: 'ack',
  });
  await h.addDevice('0001_MSAN', basic);
  await h.addDevice('0002_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0002-xyz' });
  // Valid, but never seen by this gateway before the address is throttled.
  await h.addDevice('0003_MSAN', { type: 'ACCESS_TOKEN', token: 'token-0003-xyz' });
});
afterAll(() => h?.close());

/** The CONNACK return code the device gets (0 = accepted). */
function connack(opts: mqtt.IClientOptions): Promise<number> {
  return new Promise((resolve) => {
    const c = mqtt.connect({
      host: '127.0.0.1',
      port: h.gateway.mqttPort,
      protocolVersion: 4,
      reconnectPeriod: 0,
      ...opts,
    });
    c.once('connect', () => {
      c.end(true);
      resolve(0);
    });
    c.once('error', (err: Error & { code?: number }) => {
      c.end(true);
      resolve(err.code ?? -1);
    });
  });
}

describe('CONNACK codes (MQTT 3.1.1)', () => {
  it('accepts MQTT Basic and access tokens', async () => {
    expect(await connack({ clientId: basic.clientId, username: basic.username, password: basic.password })).toBe(0);
    expect(await connack({ username: 'token-0002-xyz' })).toBe(0);
    // MQTT 3.1 too (ids are scoped internally, so its 23-character id cap must not bite).
    expect(
      await connack({
        protocolId: 'MQIsdp',
        protocolVersion: 3,
        clientId: 'modem-31-abcdefgh',
        username: 'token-0002-xyz',
      }),
    ).toBe(0);
  });

  it('refuses a wrong password and an unknown token with 0x05', async () => {
    expect(await connack({ clientId: basic.clientId, username: basic.username, password: 'wrong-password' })).toBe(5);
    expect(await connack({ username: 'no-such-token' })).toBe(5);
  });

  it('refuses a CONNECT without username, password or client id with 0x02', async () => {
    expect(await connack({ clientId: '', clean: true })).toBe(2);
  });

  it('opens a provisioning session for username provision (provision.test.ts)', async () => {
    expect(await connack({ username: 'provision', clientId: 'x' })).toBe(0);
  });
});

describe('start-up', () => {
  it('fails at once when the MQTT port is taken, naming the port and MQTT_PORT', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const logger = createLogger({ name: 'broker-test', level: 'silent', pretty: false });
    await expect(startGateway({ ...h.config, MQTT_PORT: port }, { logger })).rejects.toThrow(
      `MQTT port ${port} is already in use (another MQTT broker?): set MQTT_PORT to a free port`,
    );
    await new Promise((r) => blocker.close(r));
  });
});

describe('protocol versions', () => {
  it('answers an MQTT 5 CONNECT with "unsupported protocol version" (aedes 1.2 speaks 3.1.1)', async () => {
    const code = await new Promise<number>((resolve) => {
      const c = mqtt.connect({
        host: '127.0.0.1',
        port: h.gateway.mqttPort,
        protocolVersion: 5,
        reconnectPeriod: 0,
        username: 'x',
      });
      c.once('connect', () => resolve(0));
      c.once('error', (err: Error & { code?: number }) => resolve(err.code ?? -1));
      c.once('close', () => resolve(-1));
    });
    // 0x01 "unacceptable protocol version" [MQTT-3.1.2-2]: the client may retry with 3.1.1.
    expect(code).toBe(1);
  });
});

describe('per-device limits and the lenient invalid-payload policy', () => {
  const publishOutcome = (c: mqtt.MqttClient, payload: string) =>
    new Promise<'puback' | 'closed'>((resolve) => {
      c.once('close', () => resolve('closed'));
      c.publish('v1/devices/me/telemetry', payload, { qos: 1 }, (err) => {
        if (!err) resolve('puback');
      });
    });

  it('with INVALID_PAYLOAD_ACTION=ack, acknowledges and drops a malformed message', async () => {
    const since = await h.mark();
    const c = await h.connect({ username: 'token-0002-xyz' });
    expect(await publishOutcome(c, "{'9':'true'}")).toBe('puback');
    expect(c.connected).toBe(true);
    expect((await since()).filter((m) => m.kind === 'telemetry')).toEqual([]);
    await c.endAsync();
  });

  it('closes the connection of a device over its message rate, without PUBACK', async () => {
    const c = await h.connect({ clientId: basic.clientId, username: basic.username, password: basic.password });
    const outcomes = [];
    for (let i = 0; i < 4; i++) outcomes.push(await publishOutcome(c, "{'V':230.0}"));
    // The ack test above used one token of another device; this one has its burst of 3.
    expect(outcomes).toEqual(['puback', 'puback', 'puback', 'closed']);
  });
});

// Last: it uses up 127.0.0.1's failed-auth allowance for this gateway.
describe('abuse limits', () => {
  it('throttles an address after repeated failures with 0x03, except devices already known good', async () => {
    const firmware = { clientId: basic.clientId, username: basic.username, password: basic.password };
    expect(await connack(firmware)).toBe(0); // known good from now on
    for (let i = 0; i < 4; i++) await connack({ username: `bad-${i}` });
    expect(await connack({ username: 'bad-more' })).toBe(3);
    // Behind one carrier NAT: a known neighbour keeps connecting, with no query or hash spent
    // on guesses; a wrong password, or a device not seen before, waits for the window to pass.
    expect(await connack(firmware)).toBe(0);
    expect(await connack({ ...firmware, password: 'wrong-one' })).toBe(3);
    expect(await connack({ username: 'token-0003-xyz' })).toBe(3);
  });
});
