import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpretValues } from './interpret.js';
import { parseTelemetry } from './parse.js';

const fixtures = new URL('../../../fixtures/', import.meta.url);
const load = (name: string) => JSON.parse(readFileSync(new URL(name, fixtures), 'utf8'));

describe('firmware vectors, byte-exact', () => {
  it('reads every MQTT firmware payload as the fixture says', () => {
    const mqtt = load('mqtt-firmware.json');
    for (const m of mqtt.messages) {
      const r = parseTelemetry(Buffer.from(m.payload, 'utf8'));
      if (!r.ok) throw new Error(`${m.payload}: ${r.error}`);
      expect(r.entries).toHaveLength(1);
      const i = interpretValues(r.entries[0]!.values);
      expect(i.problems).toEqual([]);
      if ('line' in m.means) expect(i.lines).toEqual([{ line: m.means.line, powered: m.means.powered }]);
      else expect(i.voltage).toBe(m.means.voltage);
    }
  });

  it('reads every HTTP firmware snapshot as the fixture says', () => {
    for (const b of load('http-firmware.json').bodies) {
      const r = parseTelemetry(b.body);
      if (!r.ok) throw new Error(r.error);
      const i = interpretValues(r.entries[0]!.values);
      expect(i.voltage).toBe(b.means.voltage);
      expect(Object.fromEntries(i.lines.map((l) => [String(l.line), l.powered]))).toEqual(b.means.lines);
    }
  });

  it('accepts every ThingsBoard form', () => {
    const forms = load('thingsboard-forms.json').forms.map((f: { payload: string }) => parseTelemetry(f.payload));
    expect(forms.map((f: { ok: boolean }) => f.ok)).toEqual([true, true, true, true]);
    expect(forms[1].entries).toEqual([{ values: { 1: 'false' } }, { values: { V: 221.3 } }]);
    expect(forms[2].entries).toEqual([{ ts: 1764230400000, values: { 1: 'false', V: 0 } }]);
    expect(forms[3].entries.map((e: { ts: number }) => e.ts)).toEqual([1764230400000, 1764230460000]);
  });
});

describe('bad input', () => {
  it.each([
    ['', /empty/],
    ['{"1": tru', /not JSON/],
    ['42', /object/],
    ['[]', /empty array/],
    ['[1]', /element 0/],
    ['{"ts":"soon","values":{}}', /"ts"/],
  ])('refuses %j with a reason', (payload, reason) => {
    const r = parseTelemetry(payload);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(reason);
  });

  it('refuses non-UTF-8 bytes', () => {
    const r = parseTelemetry(Buffer.from([0x7b, 0x27, 0xff, 0xfe, 0x27, 0x7d]));
    expect(r).toEqual({ ok: false, error: 'payload is not valid UTF-8' });
  });

  it('reports line 9 and a non-numeric voltage, and keeps unknown keys', () => {
    const i = interpretValues({ 9: 'true', V: 'abc', 3: 'maybe', rssi: -71, 2: 0, 1: '1' });
    expect(i.problems).toEqual([
      'line 3: "maybe" is not a line state (use true/false or 1/0)',
      'line 9: devices have lines 1..8',
      'V: "abc" is not a number',
    ]);
    expect(i.lines).toEqual([
      { line: 1, powered: true },
      { line: 2, powered: false },
    ]);
    expect(i.other).toEqual({ rssi: -71 });
  });

  it('reads a numeric string voltage', () => {
    expect(interpretValues({ V: '229.5' }).voltage).toBe(229.5);
  });
});
