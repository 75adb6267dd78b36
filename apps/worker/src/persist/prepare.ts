/**
 * Splits a batch into per-device row sets (no I/O). Event time is the device's `ts` when the
 * entry had one, else the gateway's receive time (the deployed firmware never sends one).
 */
import { type ConnectivityEvent, type IngestMessage, isImportedMessageId, type TelemetryValue } from '@spms/queue';
import { interpretValues } from '@spms/telemetry';

export interface LineRow {
  line: number;
  ts: number;
  powered: boolean;
  msgId: string;
  source: string;
  receivedAt: number;
}
export interface VoltRow {
  ts: number;
  volts: number;
  msgId: string;
  /** The entry carried the device's `ts` (device time; see windows.ts). */
  deviceTs: boolean;
}
export interface RejectedRow {
  ts: number;
  msgId: string;
  key: string;
  value: TelemetryValue;
  reason: string;
}
export interface RawRow {
  ts: number;
  msgId: string;
  entry: number;
  values: Record<string, TelemetryValue>;
}
export interface ConnRow {
  ts: number;
  event: ConnectivityEvent;
  msgId: string;
  detail: Record<string, unknown> | null;
}
export interface AttrRow {
  key: string;
  value: TelemetryValue;
  ts: number;
  msgId: string;
}

export interface DeviceRows {
  deviceId: string;
  lines: LineRow[];
  volts: VoltRow[];
  rejected: RejectedRow[];
  raw: RawRow[];
  connectivity: ConnRow[];
  attributes: AttrRow[];
  /** Receive times of the device's own activity (ThingsBoard's sense); a lost connection or
   *  keep-alive timeout is the gateway noticing silence, not activity. null = none in this batch. */
  activity: number[];
  lastActivity: number | null;
  messages: number;
}

export interface PrepareOptions {
  saneMin: number;
  saneMax: number;
}

function rowsFor(map: Map<string, DeviceRows>, m: IngestMessage): DeviceRows {
  let d = map.get(m.deviceId);
  if (!d) {
    d = {
      deviceId: m.deviceId,
      lines: [],
      volts: [],
      rejected: [],
      raw: [],
      connectivity: [],
      attributes: [],
      activity: [],
      lastActivity: null,
      messages: 0,
    };
    map.set(m.deviceId, d);
  }
  d.messages++;
  const silence = m.kind === 'connectivity' && (m.event === 'connection_lost' || m.event === 'keepalive_timeout');
  // Imported history was received now by the API, not from the device: it is not activity
  // (else an imported device would turn active, then raise a device-offline alert).
  if (!silence && !isImportedMessageId(m.id)) {
    d.activity.push(m.receivedAt);
    if (d.lastActivity === null || m.receivedAt > d.lastActivity) d.lastActivity = m.receivedAt;
  }
  return d;
}

/** A report's identity: the message id, suffixed by the entry index for multi-entry messages. */
export const entryMsgId = (id: string, entry: number) => (entry === 0 ? id : `${id}#${entry}`);

export function prepareBatch(messages: IngestMessage[], opts: PrepareOptions): Map<string, DeviceRows> {
  const out = new Map<string, DeviceRows>();
  for (const m of messages) {
    const d = rowsFor(out, m);
    if (m.kind === 'connectivity') {
      d.connectivity.push({ ts: m.receivedAt, event: m.event, msgId: m.id, detail: m.detail ?? null });
    } else if (m.kind === 'attributes') {
      for (const [key, value] of Object.entries(m.values))
        d.attributes.push({ key, value, ts: m.receivedAt, msgId: m.id });
    } else {
      m.entries.forEach((e, j) => {
        const ts = e.ts ?? m.receivedAt;
        const msgId = entryMsgId(m.id, j);
        // 'import+ts' for imported history (always timestamped: '+ts' keeps its device-time meaning).
        const via = isImportedMessageId(m.id) ? 'import' : m.transport;
        const source = e.ts === undefined ? via : `${via}+ts`;
        const it = interpretValues(e.values);
        for (const l of it.lines) {
          d.lines.push({ line: l.line, ts, powered: l.powered, msgId, source, receivedAt: m.receivedAt });
        }
        if (it.voltage !== null) {
          if (it.voltage >= opts.saneMin && it.voltage <= opts.saneMax)
            d.volts.push({ ts, volts: it.voltage, msgId, deviceTs: e.ts !== undefined });
          else
            d.rejected.push({
              ts,
              msgId,
              key: 'V',
              value: it.voltage,
              reason: `outside the physical range ${opts.saneMin}..${opts.saneMax} V`,
            });
        }
        for (const p of it.problems) {
          const key = p.slice(0, p.indexOf(':'));
          const raw = key === 'V' ? e.values.V : e.values[key.replace(/^line /, '')];
          d.rejected.push({ ts, msgId, key, value: raw ?? null, reason: p });
        }
        if (Object.keys(it.other).length > 0) d.raw.push({ ts, msgId: m.id, entry: j, values: it.other });
      });
    }
  }
  return out;
}
