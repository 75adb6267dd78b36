/**
 * One door for what devices send. The MQTT broker (apps/broker: `v1/devices/me/telemetry`,
 * `v1/devices/me/attributes`) and the HTTP device API (apps/api: `POST /api/v1/<token>/telemetry`,
 * `…/attributes`) both turn a payload into its ingest message here: the one definition of
 * a valid message (validate-message.ts) and the envelope (id, device, receive time,
 * transport). The same payload therefore makes the same message whichever way it came;
 * only `transport`, `id` and `receivedAt` differ (docs/device-messages.md).
 *
 * What stays with each transport is its own: reading the payload off the wire, telling the
 * device about a refusal (MQTT: the connection closed, or acknowledged and dropped; HTTP:
 * 400) and the durable hand-off to the ingest queue before the device is acknowledged.
 */
import type { AttributesMessage, IngestMessage, TelemetryMessage } from '@spms/contracts';
import { createTelemetryEvaluator } from './payload-cache.js';
import { acceptAttributes } from './validate-message.js';

export type DeviceTransport = IngestMessage['transport'];

/** The message to queue, or why this payload alone is refused (a text that says what to fix). */
export type IngressVerdict<M extends IngestMessage> = { ok: true; message: M } | { ok: false; error: string };

export interface DeviceIngress {
  /** A telemetry payload the device sent, received at `receivedAt` (epoch ms, this process's clock). */
  telemetry(deviceId: string, payload: Uint8Array | string, receivedAt: number): IngressVerdict<TelemetryMessage>;
  /** A client-attributes payload (one JSON object). */
  attributes(deviceId: string, payload: Uint8Array | string, receivedAt: number): IngressVerdict<AttributesMessage>;
}

export interface DeviceIngressOptions {
  transport: DeviceTransport;
  /**
   * Message ids: the queue's `newMessageId` (unique across processes, ordered by receive
   * time). Passed in so this package stays free of the queue and its I/O.
   */
  newId: () => string;
}

export function createDeviceIngress({ transport, newId }: DeviceIngressOptions): DeviceIngress {
  // One cache per transport and process: the fleet's few distinct payloads parse once.
  const evaluateTelemetry = createTelemetryEvaluator();
  return {
    telemetry(deviceId, payload, receivedAt) {
      const verdict = evaluateTelemetry(payload, receivedAt);
      if (!verdict.ok) return verdict;
      const message: TelemetryMessage = {
        id: newId(),
        deviceId,
        receivedAt,
        transport,
        kind: 'telemetry',
        entries: verdict.entries,
      };
      return { ok: true, message };
    },
    attributes(deviceId, payload, receivedAt) {
      const verdict = acceptAttributes(payload);
      if (!verdict.ok) return verdict;
      const message: AttributesMessage = {
        id: newId(),
        deviceId,
        receivedAt,
        transport,
        kind: 'attributes',
        values: verdict.values,
      };
      return { ok: true, message };
    },
  };
}
