import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateFleet, loadTest } from '../src/index.js';
import { startBroker, type TestBroker } from './test-support/helpers.js';

let b: TestBroker;
beforeEach(async () => {
  b = await startBroker();
});
afterEach(async () => {
  await b.close();
});

describe('loadTest', () => {
  it('opens N sessions with the fleet credentials, sends boot sequences and the requested load, and counts PUBACKs', async () => {
    const fleet = generateFleet({ count: 30, seed: 5 });
    const r = await loadTest({
      mqttUrl: `mqtt://127.0.0.1:${b.port}`,
      devices: 30,
      rate: 300,
      durationS: 1,
      rampPerSecond: 300,
      fleet,
      sourceAddresses: 3,
      lineChangeShare: 0.1,
    });
    expect(r.connectedPeak).toBe(30);
    expect(new Set(b.connects.map((c) => c.clientId))).toEqual(
      new Set(fleet.devices.map((d) => (d.credentials.type === 'MQTT_BASIC' ? d.credentials.clientId : ''))),
    );
    const boots = b.received.filter((m) => m.payload === "{'1':'true'}");
    expect(boots).toHaveLength(30);
    const volts = b.received.filter((m) => /^\{'V':\d+\.\d\}$/.test(m.payload));
    const changes = b.received.filter((m) => /^\{'[1-8]':'(true|false)'\}$/.test(m.payload)).length - 240;
    expect(volts.length + changes).toBe(r.stats.published - 240);
    expect(volts.length).toBeGreaterThan(100);
    expect(changes).toBeGreaterThan(volts.length / 20); // ~10 % line changes
    expect(b.received.some((m) => /^\{'[1-8]':'false'\}$/.test(m.payload))).toBe(true);
    expect(r.stats.acked).toBe(r.stats.published);
    expect(r.stats.pubackLatencyMs.count).toBe(r.stats.acked);
    expect(r.stats.pubackLatencyMs.p99).toBeGreaterThanOrEqual(r.stats.pubackLatencyMs.p50);
    expect(r.stats.errors).toBe(0);
  });
});
