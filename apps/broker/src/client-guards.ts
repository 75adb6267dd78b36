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
 * - Unauthenticated connections: at most MAX_PENDING_CONNECTIONS sockets may wait for their
 *   CONNACK (silent, or authenticating) across all sources; a socket beyond that is closed
 *   before aedes sees it (refusal `max_pending`). Until its CONNACK a connection may send
 *   packets of at most MAX_CONNECT_PACKET_BYTES — a CONNECT is small — so the memory held by
 *   unauthenticated sockets stays bounded. Silent sockets end by CONNECT_TIMEOUT_MS (aedes'
 *   connectTimeout). No per-address cap: the fleet is behind carrier-grade NAT.
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
  /** Set by aedes: the client this parser reads for. */
  client: GatewayClient;
  /** mqtt-packet's byte accumulator: a `bl` BufferListStream, whose class carries the plain BufferList. */
  _list: { constructor: { BufferList?: new () => unknown } };
  /** Whether the CONNECT has been parsed (the packet-size limit rises after it). */
  spmsConnectSeen: boolean;
}

export type ConnectionHandler = (conn: Duplex, req?: IncomingMessage) => Client | null;

/** Client id, username and password of real firmware fit many times; wills are ignored. */
export const MAX_CONNECT_PACKET_BYTES = 16_384;

/** The largest packet after authentication: a topic name is at most 65,535 bytes [MQTT-1.5.3], plus headers. */
export function maxPacketBytes(maxPayloadBytes: number): number {
  return maxPayloadBytes + 65_535 + 16;
}

/**
 * Memory (docs/broker-memory.md): everything here is shared by all connections — the
 * wrapped parse and the packet hook are single functions reading their state from the
 * parser (`this`), and the pending count is a set of clients — because a closure or a
 * bound function per connection is kept for as long as the connection lives.
 */
export function createGuardedHandle(ctx: GatewayContext, broker: Aedes): ConnectionHandler {
  const maxPacket = maxPacketBytes(ctx.config.MAX_PAYLOAD_BYTES);
  const maxPending = ctx.config.MAX_PENDING_CONNECTIONS;
  const pending = new Set<Client>();
  const settle = (client: Client) => {
    if (!pending.delete(client)) return;
    ctx.metrics.pending.set(pending.size);
    client.conn.off('close', onClose);
  };
  function onClose(this: Duplex & { client?: Client }) {
    if (this.client) settle(this.client);
  }
  broker.on('connackSent', (_packet, client) => settle(client));

  let parse: ((this: PacketParser, buf: Buffer) => number) | undefined;
  function guardedParse(this: PacketParser, buf: Buffer): number {
    const left = (parse as (this: PacketParser, buf: Buffer) => number).call(this, buf);
    // Packets pipelined after the CONNECT (before its CONNACK) get the normal limit.
    const limit = this.spmsConnectSeen ? maxPacket : MAX_CONNECT_PACKET_BYTES;
    const client = this.client;
    if (this.packet.length > limit && !client.conn.destroyed) {
      ctx.metrics.refused.inc({ reason: 'payload_too_large' });
      ctx.logger.warn(
        { deviceId: client.spms?.device.id, declaredBytes: this.packet.length, reason: 'payload_too_large' },
        'packet larger than the maximum: closing the connection',
      );
      if (client.spms) client.spms.closeReason = 'payload_too_large';
      client.conn.destroy();
    }
    return left;
  }
  function onPacket(this: PacketParser, packet: { cmd: string; unsubscriptions?: string[] }) {
    if (packet.cmd === 'connect') this.spmsConnectSeen = true;
    const s = this.client.spms;
    if (packet.cmd !== 'unsubscribe' || !s || !packet.unsubscriptions) return;
    packet.unsubscriptions = packet.unsubscriptions.map((t) =>
      ALLOWED_SUBSCRIPTIONS.has(t) ? deviceTopic(s.device.id, t) : t,
    );
  }

  return (conn, req) => {
    if (maxPending > 0 && pending.size >= maxPending) {
      ctx.metrics.refused.inc({ reason: 'max_pending' });
      ctx.logger.debug({ pending: pending.size }, 'too many connections without CONNACK: closing a new socket');
      conn.on('error', () => {});
      conn.destroy();
      return null;
    }
    const client = broker.handle(conn, req) as GatewayClient;
    pending.add(client);
    ctx.metrics.pending.set(pending.size);
    conn.on('close', onClose);
    const parser = (client as unknown as { _parser: PacketParser })._parser;
    parse ??= Object.getPrototypeOf(parser).parse as (this: PacketParser, buf: Buffer) => number;
    // mqtt-packet accumulates bytes in a `bl` stream (a Duplex, ~1 KiB with its stream
    // states) but only uses its buffer-list methods: the plain BufferList has them all.
    // Swapped before the first read (aedes reads on 'readable', a later tick).
    const BufferList = parser._list.constructor.BufferList;
    if (BufferList) parser._list = new BufferList() as PacketParser['_list'];
    parser.spmsConnectSeen = false;
    parser.parse = guardedParse;
    parser.prependListener('packet', onPacket);
    return client;
  };
}
