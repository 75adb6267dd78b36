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
 *   before aedes sees it (refusal `max_pending`). That includes sockets still in a stage
 *   before MQTT — waiting for their PROXY header, in the TLS handshake, before the WebSocket
 *   upgrade — which the listeners report at accept (`accepted`), so a flood of handshakes
 *   that never finish cannot take every file descriptor. Until its CONNACK a connection may
 *   send packets of at most MAX_CONNECT_PACKET_BYTES — a CONNECT is small — so the memory
 *   held by unauthenticated sockets stays bounded. A TCP or TLS socket must have sent its
 *   whole CONNECT within CONNECT_TIMEOUT_MS of its accept, header and handshake included
 *   (one deadline, not one per stage); a WebSocket gets aedes' connectTimeout after its
 *   upgrade. No per-address cap: the fleet is behind carrier-grade NAT.
 * - Admission (TCP and TLS): a socket is handed to aedes once its first bytes arrived (a
 *   silent socket costs an idle timer, no aedes client), and while MAX_CONNECTS_IN_PROGRESS
 *   connections are already being authenticated, the next ones wait in arrival order with
 *   their bytes unread. Without it a grid-restore storm handed every socket to aedes at once:
 *   all of them were worked on in turn, none finished early, and on two loaded cores thousands
 *   of CONNECTs were not even parsed within CONNECT_TIMEOUT_MS — closed, re-sent 5 s later,
 *   and the storm fed itself (a warm 10,000-device storm took 39–41 s instead of 15 s).
 *   Waiting in line costs a socket and at most one read buffer (16 KiB) of bytes; a device
 *   that gives up waiting (its FIN) is dropped from the line at the next sweep or when its
 *   turn comes, before any work is done for it.
 * Both reach into aedes' client internals (`_parser`), pinned by aedes ^1.2.
 */

import type { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import type { GatewayClient, GatewayContext } from './context.js';
import { forgetConnectPacket, slimClient } from './slim-client.js';
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
  /** mqtt-packet: the CONNECT once parsed (slim-client.ts replaces it). */
  settings: object;
}

/** The listeners' connection handler (listeners.ts). */
export interface ConnectionHandler {
  /** A connection ready for MQTT: a TCP socket, a TLS socket once its handshake is done, or an upgraded WebSocket's stream. */
  (conn: Duplex, req?: IncomingMessage): Client | null;
  /**
   * A socket just accepted by a listener with a stage before MQTT (PROXY header, TLS
   * handshake, WebSocket upgrade): counted among the connections without CONNACK, with its
   * accept time as its deadline's start, until it reaches the handler or closes. False when
   * the budget is spent: the socket is closed (refusal `max_pending`).
   */
  accepted(socket: Socket): boolean;
}

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
  /**
   * Not handed yet, in accept order (a Map keeps it): silent so far, or in line (`queue`, in
   * arrival order). Kept here, not on the socket, so nothing stays on it once handed.
   */
  const unhanded = new Map<Socket, Unhanded>();
  const queue = new Set<Socket>();
  /** Accepted, still before MQTT (PROXY header, TLS handshake, WebSocket upgrade), with their accept time, in accept order. */
  const early = new Map<Socket, number>();
  const waitingCount = () => pending.size + unhanded.size + early.size;
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
  function onPacket(
    this: PacketParser,
    packet: { cmd: string; unsubscriptions?: string[]; protocolVersion?: number; bridgeMode?: boolean },
  ) {
    if (packet.cmd === 'connect') {
      this.spmsConnectSeen = true;
      forgetConnectPacket(this, packet);
    }
    const s = this.client.spms;
    if (packet.cmd !== 'unsubscribe' || !s || !packet.unsubscriptions) return;
    packet.unsubscriptions = packet.unsubscriptions.map((t) =>
      ALLOWED_SUBSCRIPTIONS.has(t) ? deviceTopic(s.device.id, t) : t,
    );
  }

  function onEarlyGone(this: Socket) {
    if (early.delete(this)) report();
  }
  /** The accept time of `conn`'s socket if it came through a stage before MQTT (and leaves it now). */
  function leaveEarly(conn: Duplex, req?: IncomingMessage): number | undefined {
    // The raw socket: an upgraded WebSocket's request socket, or a TLS socket's underlying one
    // (Node's TLSSocket keeps it as `_parent`; pre-mqtt-limits.test.ts fails if that changes).
    const raw = req?.socket ?? (conn as { _parent?: Socket })._parent ?? conn;
    const at = early.get(raw as Socket);
    if (at === undefined) return undefined;
    early.delete(raw as Socket);
    raw.off('close', onEarlyGone);
    return at;
  }

  // A socket not handed to aedes yet: when it came (a fixed deadline: a trickle of bytes does
  // not extend it) and its bytes so far; shared listeners (`this` = the socket).
  function onGone(this: Socket) {
    unhanded.delete(this);
    queue.delete(this);
    report();
  }
  function onBytes(this: Socket, chunk: Buffer) {
    const u = unhanded.get(this);
    if (!u) return;
    u.chunks.push(chunk);
    u.length += chunk.length;
    // The header is at most 5 bytes: while it is incomplete the chunks are that small.
    if (u.need === null) u.need = firstPacketBytes(u.chunks.length === 1 ? chunk : Buffer.concat(u.chunks));
    if (u.need === null || (u.length < u.need && u.need <= MAX_CONNECT_PACKET_BYTES)) return; // more to come
    // A whole first packet, or a header aedes' guards refuse (too large, malformed).
    this.off('data', onBytes);
    this.pause();
    this.unshift(u.chunks.length === 1 ? (u.chunks[0] as Buffer) : Buffer.concat(u.chunks, u.length)); // aedes reads them
    u.chunks = [];
    if (maxInProgress > 0 && pending.size >= maxInProgress) {
      queue.add(this);
      report();
    } else hand(this);
  }
  // Every second: sockets that sent no whole CONNECT within CONNECT_TIMEOUT_MS are closed
  // (aedes' own timer applies once handed), and so are queued ones whose device hung up — a
  // paused socket with unread bytes emits no 'close' when the peer ends it.
  const sweep = setInterval(() => {
    const oldest = Date.now() - ctx.config.CONNECT_TIMEOUT_MS;
    const timedOut = (from: Map<Socket, unknown>, conn: Socket) => {
      from.delete(conn);
      ctx.metrics.refused.inc({ reason: 'connect_timeout' });
      conn.destroy();
    };
    for (const [conn, at] of early) {
      if (at > oldest) break; // accept order
      timedOut(early, conn);
    }
    // Not a break at the first young entry: a socket that came through a header or handshake
    // joins with its accept time, behind younger ones (a pass over the sockets without CONNACK).
    for (const [conn, u] of unhanded) if (u.at <= oldest && !queue.has(conn)) timedOut(unhanded, conn);
    for (const conn of queue) if (peerEnded(conn)) conn.destroy();
    report();
  }, 1000);
  sweep.unref();
  broker.once('closed', () => clearInterval(sweep));
  function admitQueued(): void {
    for (const conn of queue) {
      if (maxInProgress > 0 && pending.size >= maxInProgress) return;
      queue.delete(conn);
      if (conn.destroyed) continue;
      if (peerEnded(conn))
        conn.destroy(); // gave up waiting: no work for it
      else hand(conn);
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
    slimClient(client, (msg) => ctx.logger.warn(msg));
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

  function refusePending(conn: Duplex): void {
    ctx.metrics.refused.inc({ reason: 'max_pending' });
    ctx.logger.debug({ pending: waitingCount() }, 'too many connections without CONNACK: closing a new socket');
    conn.on('error', ignore);
    conn.destroy();
  }

  const guarded = (conn: Duplex, req?: IncomingMessage): Client | null => {
    // Counted since its accept already (a slot it holds, so never refused here).
    const acceptedAt = leaveEarly(conn, req);
    if (acceptedAt === undefined && maxPending > 0 && waitingCount() >= maxPending) {
      refusePending(conn);
      return null;
    }
    // WebSocket streams are handed at once (their upgrade already had a deadline).
    if (req || !(conn instanceof Socket)) {
      const client = handle(conn, req);
      report();
      return client;
    }
    // From its accept when it had a stage before (header, handshake): one deadline in all.
    unhanded.set(conn, { at: acceptedAt ?? Date.now(), chunks: [], length: 0, need: null });
    conn.on('error', ignore);
    conn.on('close', onGone);
    conn.on('data', onBytes);
    conn.resume(); // a socket behind a PROXY header comes paused, its next bytes unshifted
    report();
    return null;
  };
  return Object.assign(guarded, {
    accepted(socket: Socket): boolean {
      if (maxPending > 0 && waitingCount() >= maxPending) {
        refusePending(socket);
        return false;
      }
      early.set(socket, Date.now());
      socket.on('close', onEarlyGone);
      report();
      return true;
    },
  });
}

function ignore(): void {}

/** A socket not handed to aedes: when it was accepted, its bytes, its first packet's length once known. */
interface Unhanded {
  at: number;
  chunks: Buffer[];
  length: number;
  need: number | null;
}

/** The peer ended its side (FIN read into the buffer; no 'end' while bytes are unread). */
function peerEnded(conn: Socket): boolean {
  return (conn as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

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
