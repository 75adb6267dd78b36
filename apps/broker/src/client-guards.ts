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
 * - Admission (TCP and TLS): a socket is handed to aedes once its first bytes arrived (a
 *   silent socket costs an idle timer, no aedes client), and while MAX_CONNECTS_IN_PROGRESS
 *   connections are already being authenticated, the next ones wait in arrival order with
 *   their bytes unread. Without it a grid-restore storm handed every socket to aedes at once:
 *   all of them were worked on in turn, none finished early, and on two loaded cores thousands
 *   of CONNECTs were not even parsed within CONNECT_TIMEOUT_MS — closed, re-sent 5 s later,
 *   and the storm fed itself (a warm 10,000-device storm took 39–41 s instead of 15 s).
 *   Waiting in line costs a socket and its first bytes; the device's own CONNACK timeout
 *   still ends a wait that is too long (its close removes it from the line).
 * Both reach into aedes' client internals (`_parser`), pinned by aedes ^1.2.
 */

import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
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
  const maxInProgress = ctx.config.MAX_CONNECTS_IN_PROGRESS;
  /** Handed to aedes, no CONNACK yet. */
  const pending = new Set<Client>();
  /** Not handed yet: silent so far, or in line (`queue`, in arrival order: a Set keeps it). */
  const unhanded = new Set<Socket>();
  const queue = new Set<Socket>();
  const waitingCount = () => pending.size + unhanded.size;
  const report = () => {
    ctx.metrics.pending.set(waitingCount());
    ctx.metrics.admissionQueue.set(queue.size);
  };
  const settle = (client: Client) => {
    if (!pending.delete(client)) return;
    client.conn.off('close', onClose);
    admitQueued();
    report();
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

  // A socket not handed to aedes yet: its bytes so far, when it came (a fixed deadline: a
  // trickle of bytes does not extend it), and shared listeners (`this` = the socket).
  type Unhanded = Socket & { spmsBytes?: Buffer; spmsAcceptedAt?: number };
  function onGone(this: Unhanded) {
    unhanded.delete(this);
    queue.delete(this);
    this.spmsBytes = undefined;
    report();
  }
  function onBytes(this: Unhanded, chunk: Buffer) {
    const bytes = this.spmsBytes ? Buffer.concat([this.spmsBytes, chunk]) : chunk;
    const need = firstPacketBytes(bytes);
    if (need === null || (bytes.length < need && need <= MAX_CONNECT_PACKET_BYTES)) {
      this.spmsBytes = bytes; // the rest of the CONNECT is still on its way
      return;
    }
    // A whole first packet, or a header aedes' guards refuse (too large, malformed).
    this.off('data', onBytes);
    this.pause();
    this.unshift(bytes); // aedes reads them from the stream
    this.spmsBytes = undefined;
    if (maxInProgress > 0 && pending.size >= maxInProgress) {
      queue.add(this);
      report();
    } else hand(this);
  }
  // Sockets that sent no whole CONNECT within CONNECT_TIMEOUT_MS (aedes' own timer applies
  // once handed); in accept order, so the sweep stops at the first younger one.
  const sweep = setInterval(() => {
    const oldest = Date.now() - ctx.config.CONNECT_TIMEOUT_MS;
    for (const conn of unhanded as Set<Unhanded>) {
      if ((conn.spmsAcceptedAt ?? 0) > oldest) break;
      if (queue.has(conn)) continue; // sent its CONNECT: waits for a slot
      unhanded.delete(conn);
      ctx.metrics.refused.inc({ reason: 'connect_timeout' });
      conn.destroy();
    }
  }, 1000);
  sweep.unref();
  broker.once('closed', () => clearInterval(sweep));
  function admitQueued(): void {
    for (const conn of queue) {
      if (maxInProgress > 0 && pending.size >= maxInProgress) return;
      queue.delete(conn);
      if (!conn.destroyed) hand(conn);
    }
  }
  function hand(conn: Socket): void {
    unhanded.delete(conn);
    conn.off('close', onGone);
    conn.off('error', ignore);
    handle(conn);
    report();
  }

  const handle = (conn: Duplex, req?: IncomingMessage): Client => {
    const client = broker.handle(conn, req) as GatewayClient;
    pending.add(client);
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

  return (conn, req) => {
    if (maxPending > 0 && waitingCount() >= maxPending) {
      ctx.metrics.refused.inc({ reason: 'max_pending' });
      ctx.logger.debug({ pending: waitingCount() }, 'too many connections without CONNACK: closing a new socket');
      conn.on('error', ignore);
      conn.destroy();
      return null;
    }
    // WebSocket streams are handed at once (their upgrade already had a deadline).
    if (req || !(conn instanceof Socket)) {
      const client = handle(conn, req);
      report();
      return client;
    }
    unhanded.add(conn);
    (conn as Unhanded).spmsAcceptedAt = Date.now();
    conn.on('error', ignore);
    conn.on('close', onGone);
    conn.on('data', onBytes);
    conn.resume(); // a socket behind a PROXY header comes paused, its next bytes unshifted
    report();
    return null;
  };
}

function ignore(): void {}

/**
 * Length of the MQTT packet at the start of `buf` (fixed header + remaining length
 * [MQTT-2.2.3]), or null when its header is not complete yet or malformed (a remaining
 * length longer than four bytes: aedes refuses it).
 */
export function firstPacketBytes(buf: Buffer): number | null {
  let remaining = 0;
  for (let i = 1; i <= 4; i++) {
    const b = buf[i];
    if (b === undefined) return null;
    remaining += (b & 0x7f) * 128 ** (i - 1);
    if ((b & 0x80) === 0) return 1 + i + remaining;
  }
  return 0; // malformed: hand it over now
}
