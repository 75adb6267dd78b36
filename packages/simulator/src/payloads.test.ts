import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  chunkTimestamped,
  httpSnapshotBody,
  mqttLinePayload,
  mqttVoltagePayload,
  timestampedArrayPayload,
  timestampedPayload,
} from './payloads.js';

// The firmware test vectors (repository fixtures/, as the telemetry parser's tests read them).
const fixtures = new URL('../../../fixtures/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));

describe('MQTT firmware payloads', () => {
  const mqtt = load('mqtt-firmware.json');
  it('are byte-exact for every fixture message', () => {
    for (const m of mqtt.messages) {
      const got = m.means.line ? mqttLinePayload(m.means.line, m.means.powered) : mqttVoltagePayload(m.means.voltage);
      expect(got).toBe(m.payload);
    }
  });
  it('prints one decimal and clamps negatives to 0.0 (no upper clamp)', () => {
    expect(mqttVoltagePayload(229.44)).toBe("{'V':229.4}");
    expect(mqttVoltagePayload(-3)).toBe("{'V':0.0}");
    expect(mqttVoltagePayload(412)).toBe("{'V':412.0}");
  });
});

describe('HTTP firmware snapshot', () => {
  it('is byte-exact for every fixture body', () => {
    for (const b of load('http-firmware.json').bodies) {
      const lines = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => b.means.lines[String(n)]);
      expect(httpSnapshotBody(b.means.voltage, lines)).toBe(b.body);
    }
  });
});

describe('ThingsBoard timestamped forms', () => {
  const forms = load('thingsboard-forms.json').forms as Array<{ payload: string }>;
  it('match the documented single and array forms', () => {
    expect(forms.map((f) => f.payload)).toContain(
      timestampedArrayPayload([
        { ts: 1764230400000, lines: [[2, false]] },
        { ts: 1764230460000, lines: [[2, true]] },
      ]),
    );
    expect(timestampedPayload({ ts: 1764230400000, volts: 0, lines: [[1, false]] })).toBe(
      '{"ts":1764230400000,"values":{"V":0.0,"1":false}}',
    );
  });
  it('splits a long replay into valid arrays under the size limit', () => {
    const values = Array.from({ length: 5000 }, (_, i) => ({
      ts: 1764230400000 + i,
      lines: [[3, i % 2 === 0]] as const,
    }));
    const chunks = chunkTimestamped(values, 10_000);
    expect(chunks.length).toBeGreaterThan(1);
    const all = chunks.flatMap((c) => {
      expect(c.length).toBeLessThanOrEqual(10_000);
      return JSON.parse(c) as unknown[];
    });
    expect(all).toHaveLength(5000);
  });
});
