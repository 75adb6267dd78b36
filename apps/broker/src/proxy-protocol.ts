/**
 * The PROXY protocol (HAProxy's `send-proxy` v1 text and `send-proxy-v2` binary header) on
 * the MQTT listeners, for a broker behind a TCP load balancer: the balancer writes the
 * device's own address before the first MQTT byte, so per-address protection (the failed
 * authentication budget, the optional connect rate) sees devices, not the balancer.
 *
 * With MQTT_PROXY_PROTOCOL=true every connection must start with a header — a listener
 * that also took bare connections would let anyone who reaches it claim any address — so a
 * connection without one, with a malformed one, or that does not finish it within
 * CONNECT_TIMEOUT_MS is closed before MQTT sees it. A v2 `LOCAL` header (the balancer's own
 * health check) keeps the socket's address. The broker port must then only be reachable
 * from the balancer (docs/scaling.md). Parsing is proxy-protocol-js; this module only
 * frames the header out of the byte stream. The TCP, TLS and WebSocket listeners all take it
 * (listeners.ts hands back the bytes read with the header as each reader needs them).
 */
import { isIP, type Socket } from 'node:net';
import { Command, IPv4ProxyAddress, IPv6ProxyAddress, V1ProxyProtocol, V2ProxyProtocol } from 'proxy-protocol-js';

const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A v1 header is at most 107 bytes, CRLF included. */
const V1_MAX_BYTES = 107;
/** v2: 16 fixed bytes, then addresses and TLVs; more than this is not a balancer's header. */
const V2_MAX_BYTES = 16 + 2048;

export type ProxyHeader =
  | { state: 'incomplete' }
  | { state: 'invalid'; reason: string }
  /** `address` is undefined for a LOCAL (v2) or UNKNOWN (v1) header: keep the socket's own. */
  | { state: 'complete'; bytes: number; address: string | undefined };

const startsLike = (buf: Buffer, prefix: Buffer) =>
  buf.subarray(0, Math.min(buf.length, prefix.length)).equals(prefix.subarray(0, Math.min(buf.length, prefix.length)));

/** An IPv6 address from its 16 bytes, in the form Node reports socket addresses (compressed). */
function ipv6(bytes: readonly number[]): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}

/** Reads a PROXY header from the start of `buf` (pure: the bytes received so far). */
export function readProxyHeader(buf: Buffer): ProxyHeader {
  if (startsLike(buf, V2_SIGNATURE)) {
    if (buf.length < 16) return { state: 'incomplete' };
    const bytes = 16 + buf.readUInt16BE(14);
    if (bytes > V2_MAX_BYTES) return { state: 'invalid', reason: `v2 header of ${bytes} bytes` };
    if (buf.length < bytes) return { state: 'incomplete' };
    try {
      const header = V2ProxyProtocol.parse(new Uint8Array(buf.subarray(0, bytes)));
      if (header.command === Command.LOCAL) return { state: 'complete', bytes, address: undefined };
      const a = header.proxyAddress;
      if (a instanceof IPv4ProxyAddress)
        return { state: 'complete', bytes, address: a.sourceAddress.address.join('.') };
      if (a instanceof IPv6ProxyAddress) return { state: 'complete', bytes, address: ipv6(a.sourceAddress.address) };
      return { state: 'complete', bytes, address: undefined };
    } catch (err) {
      return { state: 'invalid', reason: (err as Error).message || 'malformed v2 header' };
    }
  }
  if (startsLike(buf, V1_PREFIX)) {
    const end = buf.subarray(0, V1_MAX_BYTES).indexOf('\r\n');
    if (end < 0)
      return buf.length >= V1_MAX_BYTES
        ? { state: 'invalid', reason: 'v1 header without CRLF' }
        : { state: 'incomplete' };
    const line = buf.toString('latin1', 0, end + 2);
    if (line.startsWith('PROXY UNKNOWN')) return { state: 'complete', bytes: end + 2, address: undefined };
    try {
      const header = V1ProxyProtocol.parse(line);
      const address = header.source.ipAddress;
      // The parser takes the address fields as they are: a balancer sends real addresses.
      if (isIP(address) !== (header.inetProtocol === 'TCP6' ? 6 : 4))
        return { state: 'invalid', reason: 'v1 header with a malformed source address' };
      return { state: 'complete', bytes: end + 2, address };
    } catch (err) {
      return { state: 'invalid', reason: (err as Error).message || 'malformed v1 header' };
    }
  }
  return { state: 'invalid', reason: 'no PROXY header' };
}

/** The device address a connection's PROXY header gave (per socket; gone with it). */
const proxied = new WeakMap<object, string>();

export function proxiedAddress(conn: object | undefined): string | undefined {
  if (!conn) return undefined;
  return proxied.get(conn) ?? proxied.get((conn as { _parent?: object })._parent ?? conn);
}

export interface ProxyProtocolOptions {
  /** Milliseconds for the whole header to arrive (CONNECT_TIMEOUT_MS). */
  timeoutMs: number;
  /** A connection closed for its header (counted by the caller). */
  onInvalid(reason: string): void;
}

/**
 * Wraps a listener's connection handler: the handler gets the (paused) socket once its
 * PROXY header is read, with the bytes that came after the header in the same reads. How
 * they go back depends on the reader: MQTT reads the JavaScript stream (`unshift` them);
 * Node's HTTP parser reads the socket's handle natively and sees only `data` events.
 */
export function withProxyHeader(
  opts: ProxyProtocolOptions,
  next: (socket: Socket, rest: Buffer) => void,
): (socket: Socket) => void {
  return (socket) => {
    let received: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => refuse('no complete PROXY header in time'), opts.timeoutMs);
    const onError = () => socket.destroy();
    const cleanup = () => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', cleanup);
      socket.off('error', onError);
    };
    function refuse(reason: string) {
      cleanup();
      opts.onInvalid(reason);
      socket.destroy();
    }
    function onData(chunk: Buffer) {
      received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
      const header = readProxyHeader(received);
      if (header.state === 'incomplete') return;
      if (header.state === 'invalid') return refuse(header.reason);
      socket.pause();
      cleanup();
      if (header.address) proxied.set(socket, header.address);
      next(socket, received.subarray(header.bytes));
    }
    socket.on('data', onData);
    socket.on('close', cleanup);
    socket.on('error', onError);
  };
}
