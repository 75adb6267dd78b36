import type { IngestMessage } from '@spms/queue';
import { describe, expect, it } from 'vitest';
import { toThingsBoard } from './tb-payload.js';

const base = {
  id: '0m3abcdefg12345678000001',
  deviceId: 'd1',
  receivedAt: 1_764_000_000_000,
  transport: 'mqtt',
} as const;

describe('toThingsBoard', () => {
  it('stamps telemetry with the receive time unless the device sent its own ts', () => {
    const m: IngestMessage = { ...base, kind: 'telemetry', entries: [{ values: { '3': 'false', V: 229.5 } }] };
    expect(toThingsBoard(m)).toEqual({
      topic: 'v1/devices/me/telemetry',
      payload: JSON.stringify({ ts: base.receivedAt, values: { '3': 'false', V: 229.5 } }),
    });
    const two: IngestMessage = {
      ...base,
      kind: 'telemetry',
      entries: [{ ts: 1_763_000_000_000, values: { '1': true } }, { values: { '2': true } }],
    };
    expect(JSON.parse(toThingsBoard(two)?.payload ?? '')).toEqual([
      { ts: 1_763_000_000_000, values: { '1': true } },
      { ts: base.receivedAt, values: { '2': true } },
    ]);
  });

  it('forwards attributes as they are, and neither connectivity nor imported history', () => {
    expect(toThingsBoard({ ...base, kind: 'attributes', values: { fw: '1.2' } })).toEqual({
      topic: 'v1/devices/me/attributes',
      payload: '{"fw":"1.2"}',
    });
    expect(toThingsBoard({ ...base, kind: 'connectivity', event: 'connect' })).toBeNull();
    expect(
      toThingsBoard({ ...base, id: 'hist-abc-123', kind: 'telemetry', entries: [{ ts: 1, values: { V: 230 } }] }),
    ).toBeNull();
    expect(toThingsBoard({ ...base, kind: 'telemetry', entries: [{ values: {} }] })).toBeNull();
  });
});
