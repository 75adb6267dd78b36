/**
 * A lean MQTT 3.1.1 client (mqtt-packet over a raw socket): what the modem does and no more.
 * MQTT.js keeps stores, reconnect logic and timers per client; at tens of thousands of
 * connections those cost memory and CPU the simulator needs for the broker under test.
 */
import { EventEmitter } from 'node:events';
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';

export interface LeanMqttOptions {
  host: string;
  port: number;
  clientId: string;
  username?: string;
  password?: string;
  /** Seconds; 0 disables PINGREQ. */
  keepalive?: number;
  clean?: boolean;
  /** Source address (127.0.0.x) so many clients do not exhaust one address's ephemeral ports. */
  localAddress?: string;
  connectTimeoutMs?: number;
}

export class MqttConnectError extends Error {
  override name = 'MqttConnectError';
  constructor(
    message: string,
    readonly returnCode?: number,
  ) {
    super(message);
  }
}

interface Inflight {
  resolve: () => void;
  reject: (err: Error) => void;
}

/**
 * Events: `close` (the session ended for any reason other than `silence`), `message`
 * (topic, payload) for publishes the broker sends on a subscription (QoS 1 acknowledged).
 * After `silence()` the socket is left open but mute, like a modem that lost power or
 * coverage: the broker sees no FIN and no DISCONNECT, only keep-alive expiry.
 */
export class LeanMqttClient extends EventEmitter {
  private socket: Socket | undefined;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private readonly inflight = new Map<number, Inflight>();
  private nextId = 0;
  private pingTimer: NodeJS.Timeout | undefined;
  private lastSend = 0;
  private awaitingPingResp = false;
  private onConnack: ((p: Packet) => void) | undefined;
  private readonly subacks = new Map<number, (granted: number[]) => void>();
  connected = false;
  silenced = false;
  closed = false;

  constructor(readonly opts: LeanMqttOptions) {
    super();
    this.parser.on('packet', (p: Packet) => this.handle(p));
    this.parser.on('error', (err: Error) => this.fail(err));
  }

  /** Resolves on CONNACK 0; rejects (and closes) on refusal, socket error or timeout. */
  connect(): Promise<void> {
    const o = this.opts;
    return new Promise((resolve, reject) => {
      const socket = netConnect({
        host: o.host,
        port: o.port,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      });
      this.socket = socket;
      socket.setNoDelay(true);
      const timer = setTimeout(() => this.fail(new MqttConnectError('CONNACK timeout')), o.connectTimeoutMs ?? 10_000);
      const settle = (err?: Error) => {
        clearTimeout(timer);
        this.onConnack = undefined;
        this.off('close', onClose);
        if (err) reject(err);
        else resolve();
      };
      const onClose = (err?: Error) => settle(err ?? new MqttConnectError('connection closed before CONNACK'));
      this.once('close', onClose);
      this.onConnack = (p) => {
        const code = (p as { returnCode?: number }).returnCode ?? 0;
        if (code !== 0) {
          settle(new MqttConnectError(`CONNACK refused (return code ${code})`, code));
          this.destroy();
          return;
        }
        this.connected = true;
        this.armPing();
        settle();
      };
      socket.on('data', (buf) => this.parser.parse(buf));
      socket.on('error', (err) => this.fail(err));
      socket.on('close', () => this.fail());
      this.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: o.clientId,
        clean: o.clean ?? true,
        keepalive: o.keepalive ?? 60,
        ...(o.username !== undefined ? { username: o.username } : {}),
        ...(o.password !== undefined ? { password: Buffer.from(o.password) } : {}),
      });
    });
  }

  /** QoS 1 resolves on PUBACK, QoS 0 once written to the socket. */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1): Promise<void> {
    if (!this.connected || this.silenced || this.closed) return Promise.reject(new Error('not connected'));
    if (qos === 0) {
      this.write({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false });
      return Promise.resolve();
    }
    // [MQTT-2.3.1-1] non-zero packet identifier, unique among in-flight messages.
    this.nextId = (this.nextId % 65535) + 1;
    const messageId = this.nextId;
    return new Promise((resolve, reject) => {
      this.inflight.set(messageId, { resolve, reject });
      this.write({ cmd: 'publish', topic, payload, qos: 1, messageId, retain: false, dup: false });
    });
  }

  /** SUBSCRIBE; resolves with the granted QoS per filter (0x80 = refused). */
  subscribe(filters: string[], qos: 0 | 1 = 1): Promise<number[]> {
    if (!this.connected || this.silenced || this.closed) return Promise.reject(new Error('not connected'));
    this.nextId = (this.nextId % 65535) + 1;
    const messageId = this.nextId;
    return new Promise((resolve) => {
      this.subacks.set(messageId, resolve);
      this.write({ cmd: 'subscribe', messageId, subscriptions: filters.map((topic) => ({ topic, qos })) });
    });
  }

  /** Mute the connection without closing it (power or 4G loss). Pending publishes fail. */
  silence(): void {
    if (this.closed) return;
    this.silenced = true;
    this.connected = false;
    clearTimeout(this.pingTimer);
    this.socket?.pause();
    this.rejectInflight(new Error('link lost'));
  }

  /** Abrupt close, no DISCONNECT. */
  destroy(): void {
    this.socket?.destroy();
    this.fail();
  }

  /** Polite close: DISCONNECT, then FIN. */
  async end(): Promise<void> {
    if (this.closed) return;
    if (this.connected && !this.silenced) this.write({ cmd: 'disconnect' });
    await new Promise<void>((resolve) => {
      const s = this.socket;
      if (!s || s.destroyed) return resolve();
      s.end(() => resolve());
      setTimeout(resolve, 1000).unref();
    });
    this.destroy();
  }

  private write(packet: Packet): void {
    const s = this.socket;
    if (!s || s.destroyed || this.silenced) return;
    this.lastSend = Date.now();
    s.write(mqttPacket.generate(packet));
  }

  private handle(p: Packet): void {
    if (this.silenced) return;
    if (p.cmd === 'connack') this.onConnack?.(p);
    else if (p.cmd === 'puback' && p.messageId !== undefined) {
      const f = this.inflight.get(p.messageId);
      this.inflight.delete(p.messageId);
      f?.resolve();
    } else if (p.cmd === 'pingresp') this.awaitingPingResp = false;
    else if (p.cmd === 'suback' && p.messageId !== undefined) {
      const f = this.subacks.get(p.messageId);
      this.subacks.delete(p.messageId);
      f?.((p.granted as unknown[]).map((g) => (typeof g === 'number' ? g : 0x80)));
    } else if (p.cmd === 'publish') {
      if (p.qos === 1 && p.messageId !== undefined) this.write({ cmd: 'puback', messageId: p.messageId });
      this.emit('message', p.topic, Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload));
    }
  }

  /** PINGREQ only when nothing else was sent for a keep-alive period ([MQTT-3.1.2-23]). */
  private armPing(): void {
    const ka = (this.opts.keepalive ?? 60) * 1000;
    if (ka <= 0) return;
    const tick = () => {
      if (!this.connected || this.silenced) return;
      if (this.awaitingPingResp) return this.fail(new Error('no PINGRESP'));
      const idle = Date.now() - this.lastSend;
      if (idle >= ka - 50) {
        this.awaitingPingResp = true;
        this.write({ cmd: 'pingreq' });
        this.pingTimer = setTimeout(tick, ka);
      } else this.pingTimer = setTimeout(tick, ka - idle);
    };
    this.pingTimer = setTimeout(tick, ka);
  }

  private rejectInflight(err: Error): void {
    for (const f of this.inflight.values()) f.reject(err);
    this.inflight.clear();
  }

  private fail(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.connected = false;
    clearTimeout(this.pingTimer);
    this.socket?.destroy();
    this.rejectInflight(err ?? new Error('connection closed'));
    // A silenced session's end is not news: the device already considers it gone.
    if (!this.silenced) this.emit('close', err);
  }
}
