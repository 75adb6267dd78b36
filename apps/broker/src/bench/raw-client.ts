/**
 * A minimal MQTT 3.1.1 client for load generation: pre-encoded packets written straight to
 * a socket and a 4-byte PUBACK parser, so the load generator costs far less CPU than the
 * broker it measures (MQTT.js would be the bottleneck at these rates).
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface RawClientOptions {
  port: number;
  host?: string;
  localAddress?: string;
  clientId: string;
  username?: string;
  keepalive?: number;
  /** Gives up (closes the socket, rejects) without a CONNACK by then: a broker out of file
   * descriptors leaves connections unaccepted in the kernel's queue, never answered. */
  connackTimeoutMs?: number;
}

export class RawClient {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, { start: number; resolve: (latencyMs: number) => void }>();
  private onConnack: ((code: number) => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d) => this.onData(d));
    socket.on('close', () => {
      this.closed = true;
      for (const p of this.pending.values()) p.resolve(-1);
      this.pending.clear();
      this.onConnack?.(-1);
    });
    socket.on('error', () => {});
  }

  static connect(opts: RawClientOptions): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port: opts.port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
      const client = new RawClient(socket);
      socket.once('error', reject);
      const timer = opts.connackTimeoutMs
        ? setTimeout(() => {
            reject(new Error('no CONNACK in time'));
            socket.destroy();
          }, opts.connackTimeoutMs)
        : undefined;
      client.onConnack = (code) => {
        clearTimeout(timer);
        client.onConnack = null;
        if (code === 0) resolve(client);
        else reject(new Error(code < 0 ? 'connection closed before CONNACK' : `CONNACK ${code}`));
      };
      socket.write(
        mqttPacket.generate({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clean: true,
          clientId: opts.clientId,
          keepalive: opts.keepalive ?? 300,
          ...(opts.username ? { username: opts.username } : {}),
        }),
      );
    });
  }

  /** QoS 1 PUBLISH of a pre-encoded packet (see encodePublish); resolves with the PUBACK latency (ms), -1 if lost. */
  publish(template: Buffer, idOffset: number): Promise<number> {
    const id = this.nextId;
    this.nextId = this.nextId === 65535 ? 1 : this.nextId + 1;
    const packet = Buffer.from(template);
    packet.writeUInt16BE(id, idOffset);
    return new Promise((resolve) => {
      this.pending.set(id, { start: performance.now(), resolve });
      this.socket.write(packet);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let off = 0;
    while (this.buf.length - off >= 2) {
      // Remaining length (variable byte integer, MQTT 3.1.1 §2.2.3).
      let len = 0;
      let mul = 1;
      let i = off + 1;
      let byte: number;
      do {
        if (i >= this.buf.length) {
          this.keep(off);
          return;
        }
        byte = this.buf[i++] as number;
        len += (byte & 0x7f) * mul;
        mul *= 128;
      } while (byte & 0x80);
      if (this.buf.length < i + len) {
        this.keep(off);
        return;
      }
      const type = (this.buf[off] as number) >> 4;
      if (type === 2) this.onConnack?.(this.buf[i + 1] as number);
      else if (type === 4) {
        const id = this.buf.readUInt16BE(i);
        const p = this.pending.get(id);
        if (p) {
          this.pending.delete(id);
          p.resolve(performance.now() - p.start);
        }
      }
      off = i + len;
    }
    this.keep(off);
  }

  private keep(off: number): void {
    this.buf = off >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

/** A QoS 1 PUBLISH packet with a zero message id, and where to patch the id. */
export function encodePublish(topic: string, payload: string): { template: Buffer; idOffset: number } {
  const template = mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    messageId: 1,
    retain: false,
    dup: false,
  });
  // fixed header (1) + remaining length (1-2 bytes here) + topic length (2) + topic
  const rl = template.length - 2 > 127 ? 2 : 1;
  return { template, idOffset: 1 + rl + 2 + Buffer.byteLength(topic) };
}
