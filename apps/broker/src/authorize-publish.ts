/**
 * aedes `authorizePublish`: the hot path. Validates a device PUBLISH, hands it durably to
 * the ingest queue, and only then calls back — aedes writes the QoS 1 PUBACK when this
 * callback runs, so a PUBACK always means "in Redis".
 *
 * Refusals (MQTT 3.1.1 has no negative PUBACK: a server that does not accept a PUBLISH
 * "MUST either make a positive acknowledgement … or close the Network Connection"
 * [MQTT-3.3.5-2]). Following ThingsBoard's MqttTransportHandler:
 * - topic outside the device API: positive PUBACK, message dropped, logged and counted
 *   (ThingsBoard acks with TOPIC_NAME_INVALID, which a 3.1.1 device sees as a plain PUBACK);
 * - payload over MAX_PAYLOAD_BYTES, per-device rate exceeded, queue unavailable: connection
 *   closed without PUBACK, so the device keeps the message and sends it again;
 * - invalid payload (not UTF-8, not JSON even leniently, a line other than 1..8, a
 *   voltage that is not a number, a `ts` outside 2000 … receive time + 10 min, or over the
 *   message limits of packages/telemetry/src/limits.ts): connection closed (ThingsBoard's
 *   default) or, with INVALID_PAYLOAD_ACTION=ack, acknowledged and dropped — that message
 *   alone; the reason (e.g. "ts 1733150000 looks like seconds: send milliseconds") is logged.
 * Accepted publishes are then diverted to a private sink topic, so aedes never forwards a
 * device's message to another device subscribed to the same literal topic.
 */
import { type IngestMessage, IngestRejectedError, newMessageId } from '@spms/queue';
import { createDeviceIngress } from '@spms/telemetry';
import type { Client, PublishPacket } from 'aedes';
import type { DeviceSession, GatewayClient, GatewayContext } from './context.js';
import type { DeviceRequests } from './device-requests.js';
import type { FirmwareServer } from './firmware.js';
import type { RefusalReason } from './metrics.js';
import { handleProvisionPublish, isProvisionSession } from './provision.js';
import { classifyPublish, SINK_TOPIC } from './topics.js';

type Callback = (error?: Error | null) => void;

export function createAuthorizePublish(ctx: GatewayContext, requests: DeviceRequests, firmware: FirmwareServer) {
  const { config, metrics, producer } = ctx;
  // The one door of both transports (packages/telemetry/src/ingress.ts): validation and envelope.
  const ingress = createDeviceIngress({ transport: 'mqtt', newId: newMessageId });

  function accept(packet: PublishPacket, callback: Callback): void {
    // Not for aedes' router: nothing may subscribe to the sink (authorize-subscribe.ts).
    packet.topic = SINK_TOPIC;
    packet.retain = false;
    callback(null);
  }

  function refuse(
    s: DeviceSession,
    packet: PublishPacket,
    reason: RefusalReason,
    detail: string,
    close: boolean,
    callback: Callback,
  ): void {
    metrics.refused.inc({ reason });
    s.log.warn(
      { reason, detail, topic: packet.topic, qos: packet.qos, bytes: packet.payload.length },
      'PUBLISH refused',
    );
    if (close) {
      s.closeReason = reason;
      callback(new Error(`PUBLISH refused: ${reason}`)); // aedes closes the connection
    } else accept(packet, callback);
  }

  function enqueue(s: DeviceSession, msg: IngestMessage, started: number, packet: PublishPacket, cb: Callback): void {
    producer.enqueue(msg).then(
      () => {
        metrics.enqueueLatency.observe((performance.now() - started) / 1000);
        metrics.messages.inc({ kind: msg.kind });
        s.lastActivityAt = msg.receivedAt;
        accept(packet, cb);
      },
      (err: unknown) => {
        // This message alone could not be queued (e.g. too big as JSON): an invalid payload.
        if (err instanceof IngestRejectedError)
          return refuse(s, packet, 'invalid_payload', err.message, config.INVALID_PAYLOAD_ACTION === 'disconnect', cb);
        s.log.error({ err, messageId: msg.id }, 'enqueue failed: closing the connection without PUBACK');
        refuse(s, packet, 'enqueue_failed', 'ingest queue unavailable', true, cb);
      },
    );
  }

  return function authorizePublish(c: Client | null, packet: PublishPacket, callback: Callback) {
    const s = (c as GatewayClient | null)?.spms;
    if (!s && isProvisionSession(c)) return handleProvisionPublish(ctx, c as Client, packet, callback);
    // Wills are stripped at CONNECT; anything else without a device session is refused.
    if (!s) return callback(new Error('no device session'));
    const started = performance.now();
    const receivedAt = Date.now();
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;

    const kind = classifyPublish(packet.topic);
    if (kind === null) return refuse(s, packet, 'topic_not_allowed', 'not a device API topic', false, callback);
    if (payload.length > config.MAX_PAYLOAD_BYTES)
      return refuse(s, packet, 'payload_too_large', `${payload.length} bytes`, true, callback);
    // Firmware chunks are paced by the download slots and one request at a time, not the message rate.
    if (kind.kind === 'fw_request')
      return firmware.handle(c as GatewayClient, s, kind, payload, (outcome) => {
        if (outcome === 'ack') accept(packet, callback);
        else if (outcome === 'close') callback(new Error('firmware request refused'));
        else
          refuse(
            s,
            packet,
            'invalid_payload',
            outcome.invalid,
            config.INVALID_PAYLOAD_ACTION === 'disconnect',
            callback,
          );
      });
    if (!s.rate.take()) return refuse(s, packet, 'device_rate', 'per-device message rate exceeded', true, callback);

    const invalid = (detail: string) =>
      refuse(s, packet, 'invalid_payload', detail, config.INVALID_PAYLOAD_ACTION === 'disconnect', callback);

    switch (kind.kind) {
      case 'telemetry':
      case 'attributes': {
        const verdict = ingress[kind.kind](s.device.id, payload, receivedAt);
        if (!verdict.ok) return invalid(verdict.error);
        return enqueue(s, verdict.message, started, packet, callback);
      }
      case 'attributes_request':
      case 'rpc_request':
      case 'rpc_response':
      case 'claim':
        return requests.handle(c as GatewayClient, s, kind, payload, (problem) => {
          if (problem === null) return accept(packet, callback);
          invalid(problem);
        });
    }
  };
}
