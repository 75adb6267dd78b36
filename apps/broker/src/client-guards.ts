/**
 * Per-connection guards installed when a connection arrives, before its first packet:
 *
 * - Packet size: aedes 1.2 has no maximum packet size and mqtt-packet buffers a whole packet
 *   before emitting it (MQTT allows 256 MB). As soon as a packet's header declares more
 *   than the largest payload we accept plus a maximal topic, the connection is closed
 *   (ThingsBoard's Netty decoder does the same) — a device cannot make the broker buffer
 *   more than one socket read beyond that.
 * - UNSUBSCRIBE: subscriptions are stored under the device's private namespace
 *   (authorize-subscribe.ts), so the filters of an UNSUBSCRIBE are rewritten the same way
 *   before aedes handles it, or it would match nothing [MQTT-3.10.4-1].
 * Both reach into aedes' client internals (`_parser`), pinned by aedes ^1.2.
 */

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { GatewayClient, GatewayContext } from './context.js';
import { ALLOWED_SUBSCRIPTIONS, deviceTopic } from './topics.js';

interface PacketParser {
  parse(buf: Buffer): number;
  packet: { length: number; cmd?: string };
  prependListener(event: 'packet', fn: (p: { cmd: string; unsubscriptions?: string[] }) => void): void;
}

export type ConnectionHandler = (conn: Duplex, req?: IncomingMessage) => Client;

export function createGuardedHandle(ctx: GatewayContext, broker: Aedes): ConnectionHandler {
  // A topic name is at most 65,535 bytes [MQTT-1.5.3]; plus message id and headers.
  const maxPacket = ctx.config.MAX_PAYLOAD_BYTES + 65_535 + 16;
  return (conn, req) => {
    const client = broker.handle(conn, req) as GatewayClient;
    const parser = (client as unknown as { _parser: PacketParser })._parser;
    const parse = parser.parse.bind(parser);
    parser.parse = (buf: Buffer) => {
      const left = parse(buf);
      if (parser.packet.length > maxPacket && !conn.destroyed) {
        ctx.metrics.refused.inc({ reason: 'payload_too_large' });
        ctx.logger.warn(
          { deviceId: client.spms?.device.id, declaredBytes: parser.packet.length, reason: 'payload_too_large' },
          'packet larger than the maximum: closing the connection',
        );
        if (client.spms) client.spms.closeReason = 'payload_too_large';
        conn.destroy();
      }
      return left;
    };
    parser.prependListener('packet', (packet) => {
      const s = client.spms;
      if (packet.cmd !== 'unsubscribe' || !s || !packet.unsubscriptions) return;
      packet.unsubscriptions = packet.unsubscriptions.map((t) =>
        ALLOWED_SUBSCRIPTIONS.has(t) ? deviceTopic(s.device.id, t) : t,
      );
    });
    return client;
  };
}
