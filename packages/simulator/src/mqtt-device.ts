/**
 * The deployed MQTT firmware, behaviour for behaviour (docs/field-protocol.md): boot sequence of the 8
 * line states in order, voltage every 30 s, a line only when it changes, and after any
 * failed connect or dropped session a reboot and a fresh connect with the same client id
 * (so the boot sequence is sent again). No buffer: what happens while offline is lost
 * except the current state, which the next boot sequence carries.
 *
 * `behaviour: 'buffered'` is a ThingsBoard-style device instead: strict JSON with `ts`,
 * readings kept while offline and replayed as `[{"ts","values"}]` on reconnect.
 */
import { type Clock, realClock } from './clock.js';
import { countOnline, type DeviceHooks, SensedState, type SimDevice } from './device-state.js';
import type { Behaviour } from './fleet.js';
import { LeanMqttClient } from './mqtt-client.js';
import { OtaClient, type OtaOptions } from './ota-client.js';
import { mqttOtaLink } from './ota-links.js';
import {
  chunkTimestamped,
  LINE_NUMBERS,
  mqttLinePayload,
  mqttVoltagePayload,
  TELEMETRY_TOPIC,
  type TimedValues,
  timestampedPayload,
} from './payloads.js';
import { type ProvisionedCredentials, type ProvisionRequest, provisionOverMqtt } from './provision-client.js';
import { createRandom, hashString } from './random.js';
import { SimStats } from './stats.js';

export interface MqttDeviceOptions extends DeviceHooks {
  name: string;
  host: string;
  port: number;
  clientId: string;
  username?: string;
  password?: string;
  qos?: 0 | 1;
  /** Seconds, default 60. */
  keepalive?: number;
  behaviour?: Behaviour;
  /** Send `{"ts","values"}` from `clock` instead of the firmware's timestamp-less payloads. */
  timestamped?: boolean;
  clock?: Clock;
  /** Device-clock ms between voltage reports (default 30 000). */
  voltageIntervalMs?: number;
  /** Device-clock ms from a failure (or power-on) to the next CONNECT: ESP32 reboot + modem attach (default 8 000). */
  rebootMs?: number;
  /** Gap between boot-sequence messages, device-clock ms (default 100, as observed). */
  bootSpacingMs?: number;
  connectTimeoutMs?: number;
  localAddress?: string;
  nominalVolts?: number;
  voltsJitter?: number;
  seed?: number;
  stats?: SimStats;
  /** ThingsBoard's OTA client (ota-client.ts); off when not given. */
  ota?: OtaOptions;
  /** A device without credentials: provisions itself (provision-client.ts) before its first CONNECT. */
  provision?: Pick<ProvisionRequest, 'key' | 'secret' | 'credentials'>;
  onProvisioned?(device: string, credentials: ProvisionedCredentials): void;
}

export interface MqttSimDevice extends SimDevice {
  /** The OTA client when `ota` was given: what the device runs and its last fw_state. */
  readonly ota: OtaClient | undefined;
}

export function createMqttDevice(opts: MqttDeviceOptions): MqttSimDevice {
  return new MqttDevice(opts);
}

class MqttDevice implements MqttSimDevice {
  readonly name: string;
  readonly ota: OtaClient | undefined;
  private provisioned: ProvisionedCredentials | undefined;
  private readonly clock: Clock;
  private readonly stats: SimStats;
  private readonly state: SensedState;
  private readonly qos: 0 | 1;
  private readonly buffered: boolean;
  private client: LeanMqttClient | undefined;
  /** Old sessions left mute by a power/link loss; closed once a new session is up (broker takeover). */
  private zombies: LeanMqttClient[] = [];
  /** Line values the server has acknowledged (firmware's "last sent" array). */
  private readonly sent: Array<boolean | undefined> = Array(8).fill(undefined);
  /** Clock time of each line's last input change (the ts a timestamped change report carries). */
  private readonly changedAt: Array<number | undefined> = Array(8).fill(undefined);
  private readonly backlog: TimedValues[] = [];
  private timers = new Set<NodeJS.Timeout>();
  private queue: Promise<void> = Promise.resolve();
  private powered = false;
  private linkUp = true;
  private session = 0;
  private stopped = false;
  online = false;

  constructor(private readonly opts: MqttDeviceOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? realClock;
    this.stats = opts.stats ?? new SimStats();
    this.qos = opts.qos ?? 1;
    this.buffered = opts.behaviour === 'buffered';
    this.ota = opts.ota ? new OtaClient(opts.ota) : undefined;
    this.state = new SensedState(
      opts.nominalVolts ?? 229.5,
      opts.voltsJitter ?? 1,
      createRandom(opts.seed ?? hashString(opts.name)),
    );
  }

  start(): void {
    this.stopped = false;
    this.powered = true;
    this.boot(0);
  }

  async stop(graceful = true): Promise<void> {
    this.stopped = true;
    this.powered = false;
    this.clearTimers();
    const c = this.client;
    this.client = undefined;
    this.ota?.onSessionEnd();
    this.setOnline(false);
    for (const z of this.zombies) z.destroy();
    this.zombies = [];
    if (c) await (graceful ? c.end() : Promise.resolve(c.destroy()));
  }

  setLine(line: number, powered: boolean): void {
    if (this.state.lines[line - 1] !== powered) this.changedAt[line - 1] = this.clock.now();
    this.state.lines[line - 1] = powered;
    if (!this.powered) return;
    if (this.buffered && !this.online) this.backlog.push({ ts: this.clock.now(), lines: [[line, powered]] });
    this.flushLines();
  }

  setVoltage(volts: number | null): void {
    this.state.override = volts;
  }

  setPower(on: boolean): void {
    if (on === this.powered || this.stopped) return;
    this.powered = on;
    if (on) {
      this.boot(this.opts.rebootMs ?? 8000);
      return;
    }
    this.loseSession();
    this.backlog.length = 0; // RAM is gone
  }

  setLink(up: boolean): void {
    if (up === this.linkUp) return;
    this.linkUp = up;
    // The device notices at its next publish or keep-alive, reboots, and retries until the link is back.
    if (!up && this.powered) {
      this.loseSession();
      this.boot(this.opts.rebootMs ?? 8000);
    }
  }

  /** Power/link loss: the session goes mute, no DISCONNECT, no FIN. */
  private loseSession(): void {
    this.clearTimers();
    this.session++;
    this.ota?.onSessionEnd();
    if (this.client) {
      this.client.silence();
      this.zombies.push(this.client);
      this.client = undefined;
    }
    this.setOnline(false);
  }

  private boot(delayMs: number): void {
    const session = ++this.session;
    this.clearTimers();
    this.later(delayMs, () => void this.connect(session));
  }

  private async connect(session: number): Promise<void> {
    if (session !== this.session || !this.powered) return;
    this.sent.fill(undefined);
    this.stats.connectAttempts++;
    if (!this.linkUp) return this.rebootAfterFailure(session);
    const o = this.opts;
    if (o.provision && !this.provisioned) {
      try {
        this.provisioned = await provisionOverMqtt(
          { host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) },
          { deviceName: o.name, ...o.provision },
        );
      } catch (err) {
        this.stats.error(err);
        return this.rebootAfterFailure(session);
      }
      o.onProvisioned?.(o.name, this.provisioned);
      if (session !== this.session || !this.powered) return;
    }
    const creds = this.provisioned ?? o;
    const client = new LeanMqttClient({
      host: o.host,
      port: o.port,
      clientId: creds.clientId,
      ...(creds.username !== undefined ? { username: creds.username } : {}),
      ...(creds.password !== undefined ? { password: creds.password } : {}),
      keepalive: o.keepalive ?? 60,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(o.connectTimeoutMs ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
    });
    this.client = client;
    const t0 = performance.now();
    try {
      await client.connect();
    } catch (err) {
      if ((err as { returnCode?: number }).returnCode !== undefined) this.stats.refused++;
      else this.stats.error(err);
      if (this.client === client) this.client = undefined;
      return this.rebootAfterFailure(session);
    }
    if (session !== this.session || !this.powered) return void client.destroy();
    this.stats.connackLatency.record(performance.now() - t0);
    this.stats.connects++;
    for (const z of this.zombies) z.destroy();
    this.zombies = [];
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      this.stats.drops++;
      this.ota?.onSessionEnd();
      this.setOnline(false);
      this.rebootAfterFailure(session);
    });
    this.setOnline(true);
    this.queue = Promise.resolve();
    if (this.buffered) this.replay(session);
    else this.bootSequence(session);
    // The voltage loop starts with the first report; the boot sequence sends that one itself.
    this.voltageLoop(session, o.voltageIntervalMs ?? 30_000);
    if (this.ota) this.otaSession(session, client, this.ota);
  }

  /** The OTA client on this session; its reboot is a power cycle into the new image. */
  private otaSession(session: number, client: LeanMqttClient, ota: OtaClient): void {
    const link = mqttOtaLink(client, {
      report: (json) => this.send(json),
      onAttributes: (attrs) => ota.onAttributes(attrs),
      drop: () => client.destroy(),
      reboot: (comeBack) => {
        if (session !== this.session) return;
        this.loseSession();
        if (comeBack) this.boot(this.opts.rebootMs ?? 8000);
        else this.powered = false;
      },
    });
    ota.onSession(link);
  }

  private rebootAfterFailure(session: number): void {
    if (session !== this.session || !this.powered || this.stopped) return;
    this.stats.reboots++;
    this.boot(this.opts.rebootMs ?? 8000);
  }

  /**
   * 8 messages, lines 1..8 in order, one at a time (the modem's publish is synchronous),
   * then the first voltage. One task in the publish queue, not one timer per message:
   * timers of different lengths can fire out of order when the event loop runs late.
   */
  private bootSequence(session: number): void {
    const spacing = this.opts.bootSpacingMs ?? 100;
    // The inputs are read once at boot: a device that stamps its reports stamps them all with
    // that moment, however long the publishes take.
    const readAt = this.clock.now();
    this.enqueue(session, async () => {
      for (const line of LINE_NUMBERS) {
        if (line > 1) await this.pause(spacing);
        if (session !== this.session) return;
        await this.publishLine(line, readAt);
      }
      await this.pause(spacing);
      if (session === this.session) await this.send(this.voltagePayload());
    });
  }

  private replay(session: number): void {
    const now = this.clock.now();
    const lines = LINE_NUMBERS.map((n) => [n, this.state.lines[n - 1] === true] as const);
    const chunks = chunkTimestamped([...this.backlog, { ts: now, volts: this.state.volts(), lines }]);
    this.backlog.length = 0;
    for (const chunk of chunks) this.enqueue(session, () => this.send(chunk));
    this.enqueue(session, async () => {
      for (const [n, v] of lines) this.sent[n - 1] = v;
    });
  }

  private voltageLoop(session: number, firstMs: number): void {
    const tick = () => {
      if (session !== this.session) return;
      this.enqueue(session, () => this.send(this.voltagePayload()));
      this.later(this.opts.voltageIntervalMs ?? 30_000, tick);
    };
    this.later(firstMs, tick);
  }

  /** The firmware loop: publish each line whose state differs from what was last sent. */
  private flushLines(): void {
    const session = this.session;
    if (!this.online) return;
    this.enqueue(session, async () => {
      for (const line of LINE_NUMBERS) {
        if (this.sent[line - 1] !== undefined && this.sent[line - 1] !== this.state.lines[line - 1]) {
          // A device that stamps its reports stamps a change when its input changed, not
          // when the publish queue got to it (a QoS 1 publish ahead of it may be waiting).
          await this.publishLine(line, this.changedAt[line - 1]);
        }
      }
    });
  }

  private async publishLine(line: number, changedAt?: number): Promise<void> {
    const powered = this.state.lines[line - 1] === true;
    const payload =
      this.opts.timestamped || this.buffered
        ? timestampedPayload({ ts: changedAt ?? this.clock.now(), lines: [[line, powered]] })
        : mqttLinePayload(line, powered);
    await this.send(payload);
    this.sent[line - 1] = powered;
  }

  private voltagePayload(): string {
    const volts = this.state.volts();
    return this.opts.timestamped || this.buffered
      ? timestampedPayload({ ts: this.clock.now(), volts })
      : mqttVoltagePayload(volts);
  }

  private async send(payload: string): Promise<void> {
    const c = this.client;
    if (!c) throw new Error('offline');
    const t0 = performance.now();
    this.stats.published++;
    await c.publish(TELEMETRY_TOPIC, payload, this.qos);
    if (this.qos === 1) {
      this.stats.acked++;
      this.stats.pubackLatency.record(performance.now() - t0);
    }
  }

  /** Serialises publishes like the single-threaded firmware loop; a failure ends the session. */
  private enqueue(session: number, fn: () => Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (session !== this.session || !this.online) return;
      try {
        await fn();
      } catch {
        if (session === this.session && this.client) this.client.destroy();
      }
    });
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  private later(ms: number, fn: () => void): void {
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    countOnline(this.stats, this.opts, this.name, online);
  }
}
