/**
 * What the bridge sends ThingsBoard for a message SPMS accepted (pure). Telemetry goes to
 * v1/devices/me/telemetry in ThingsBoard's timestamped form, each entry with the device's
 * own `ts` when it sent one, else the gateway's receive time: ThingsBoard stores what it
 * would have stored had the device published to it directly, and a message forwarded twice
 * (at-least-once) lands on the same timestamps. Attributes go to v1/devices/me/attributes
 * (ThingsBoard keeps no time for them). Connectivity is ours; imported history came from
 * ThingsBoard: neither is forwarded.
 */
import { type IngestMessage, isImportedMessageId, type TelemetryValue } from '@spms/queue';

export interface TbPublish {
  topic: 'v1/devices/me/telemetry' | 'v1/devices/me/attributes';
  payload: string;
}

export function toThingsBoard(m: IngestMessage): TbPublish | null {
  if (isImportedMessageId(m.id)) return null;
  if (m.kind === 'telemetry') {
    const entries = m.entries
      .filter((e) => Object.keys(e.values).length > 0)
      .map((e) => ({ ts: e.ts ?? m.receivedAt, values: e.values }));
    if (entries.length === 0) return null;
    return { topic: 'v1/devices/me/telemetry', payload: JSON.stringify(entries.length === 1 ? entries[0] : entries) };
  }
  if (m.kind === 'attributes') {
    if (Object.keys(m.values).length === 0) return null;
    return {
      topic: 'v1/devices/me/attributes',
      payload: JSON.stringify(m.values satisfies Record<string, TelemetryValue>),
    };
  }
  return null;
}
