/**
 * The one door (ingress.ts) without a network: what the envelope holds, that both
 * transports' doors build the same message, and that the payload cache never changes a
 * verdict (device timestamps judged per message, bytes and text kept apart).
 */
import { describe, expect, it } from 'vitest';
import { createDeviceIngress } from './ingress.js';
import { acceptAttributes, acceptTelemetry } from './validate-message.js';

const DEVICE = '6f1c2b9e-8a51-4c1e-9d0f-2b7a4c3e5d61';
const NOW = Date.UTC(2026, 11, 3, 12);

function doors() {
  let n = 0;
  const newId = () => `id-${++n}`;
  return {
    mqtt: createDeviceIngress({ transport: 'mqtt', newId }),
    http: createDeviceIngress({ transport: 'http', newId }),
  };
}

describe('createDeviceIngress', () => {
  it('builds the whole message: id, device, receive time, transport, kind and the parsed payload', () => {
    const { mqtt } = doors();
    expect(mqtt.telemetry(DEVICE, Buffer.from("{'3':'false'}"), NOW)).toEqual({
      ok: true,
      message: {
        id: 'id-1',
        deviceId: DEVICE,
        receivedAt: NOW,
        transport: 'mqtt',
        kind: 'telemetry',
        entries: [{ values: { 3: 'false' } }],
      },
    });
    expect(mqtt.attributes(DEVICE, '{"fw_state":"UPDATED"}', NOW)).toEqual({
      ok: true,
      message: {
        id: 'id-2',
        deviceId: DEVICE,
        receivedAt: NOW,
        transport: 'mqtt',
        kind: 'attributes',
        values: { fw_state: 'UPDATED' },
      },
    });
  });

  it('gives both transports the same message but for id and transport, and the same refusals', () => {
    const { mqtt, http } = doors();
    const payloads = [
      "{'1':'true'}",
      '[{"ts":1764230400000,"values":{"2":false}},{"V":229.1}]',
      '{"ts":1733150000,"values":{"1":true}}',
      '{"9":true}',
      '',
      '\u0000',
    ];
    for (const p of payloads) {
      for (const kind of ['telemetry', 'attributes'] as const) {
        const a = mqtt[kind](DEVICE, Buffer.from(p), NOW);
        const b = http[kind](DEVICE, Buffer.from(p), NOW);
        if (!a.ok || !b.ok) {
          expect(b).toEqual(a);
          // The door refuses exactly what the one validation refuses, with its words.
          const plain = kind === 'telemetry' ? acceptTelemetry(p, NOW) : acceptAttributes(p);
          expect(plain.ok ? null : plain.error).toBe(a.ok ? null : a.error);
          continue;
        }
        const { id: _a, transport: ta, ...restA } = a.message;
        const { id: _b, transport: tb, ...restB } = b.message;
        expect([ta, tb]).toEqual(['mqtt', 'http']);
        expect(restB).toEqual(restA);
      }
    }
  });

  it('takes an id for accepted messages only', () => {
    const { http } = doors();
    expect(http.telemetry(DEVICE, 'nope', NOW).ok).toBe(false);
    const ok = http.telemetry(DEVICE, '{"1":1}', NOW);
    expect(ok.ok && ok.message.id).toBe('id-1');
  });

  it('judges a cached payload’s device timestamp against each message’s receive time', () => {
    const { mqtt } = doors();
    const payload = Buffer.from(`{'ts':${NOW},'values':{'1':1}}`);
    expect(mqtt.telemetry(DEVICE, payload, NOW).ok).toBe(true);
    // The same bytes received a day earlier carry a ts a day in the future.
    const early = mqtt.telemetry(DEVICE, payload, NOW - 86_400_000);
    expect(early.ok).toBe(false);
    expect(!early.ok && early.error).toMatch(/future/);
    expect(mqtt.telemetry(DEVICE, payload, NOW).ok).toBe(true);
  });

  it('keeps text and bytes apart in the cache, and treats any Uint8Array like a Buffer', () => {
    const { mqtt } = doors();
    // As text, "é" is a character; its latin1 byte alone is not UTF-8.
    expect(mqtt.telemetry(DEVICE, '{"x":"é"}', NOW).ok).toBe(true);
    const latin1 = Buffer.from('{"x":"é"}', 'latin1');
    expect(mqtt.telemetry(DEVICE, latin1, NOW).ok).toBe(false);
    expect(mqtt.telemetry(DEVICE, '{"x":"é"}', NOW).ok).toBe(true);
    // Views into one larger buffer: each is keyed by its own bytes, not the whole buffer's.
    const whole = new TextEncoder().encode('{"2":"false"}{"4":"true"}');
    const first = mqtt.telemetry(DEVICE, whole.subarray(0, 13), NOW);
    const second = mqtt.telemetry(DEVICE, whole.subarray(13), NOW);
    expect(first.ok && first.message.entries).toEqual([{ values: { 2: 'false' } }]);
    expect(second.ok && second.message.entries).toEqual([{ values: { 4: 'true' } }]);
  });
});
