/**
 * The HTTP firmware (docs/field-protocol.md): a strict-JSON snapshot POSTed at boot, on a line change (at
 * most one event send per 5 s), when the voltage moved ≥ 20 V since the last send, and every
 * 15 min. Only 200/204 are success; otherwise the *same* body is retried with exponential
 * back-off 5 s → 10 min, so the server sees duplicates and late snapshots.
 */
import { type Agent, request } from 'node:http';
import { type Clock, realClock } from './clock.js';
import { countOnline, type DeviceHooks, SensedState, type SimDevice } from './device-state.js';
import { OtaClient, type OtaOptions } from './ota-client.js';
import { httpOtaLink } from './ota-links.js';
import { httpSnapshotBody, LINE_NUMBERS, timestampedPayload } from './payloads.js';
import { createRandom } from './random.js';
import { SimStats } from './stats.js';

export interface HttpDeviceOptions extends DeviceHooks {
  name: string;
  /** Server base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  token: string;
  timestamped?: boolean;
  clock?: Clock;
  /** All intervals in device-clock ms; defaults are the firmware's. */
  eventGapMs?: number;
  periodicMs?: number;
  sampleMs?: number;
  voltsDelta?: number;
  backoffMinMs?: number;
  backoffMaxMs?: number;
  /** Boot delay after power-on (default 8 000). */
  rebootMs?: number;
  requestTimeoutMs?: number;
  localAddress?: string;
  agent?: Agent;
  nominalVolts?: number;
  voltsJitter?: number;
  seed?: number;
  stats?: SimStats;
  /** ThingsBoard's OTA client over HTTP (attributes polled every `pollMs`, default 60 000); off when not given. */
  ota?: OtaOptions & { pollMs?: number };
}

export function createHttpDevice(opts: HttpDeviceOptions): SimDevice & { readonly ota: OtaClient | undefined } {
  return new HttpDevice(opts);
}

class HttpDevice implements SimDevice {
  readonly name: string;
  readonly ota: OtaClient | undefined;
  /** The boot (epoch) whose OTA session is running. */
  private otaEpoch = -1;
  private readonly clock: Clock;
  private readonly stats: SimStats;
  private readonly state: SensedState;
  private readonly url: URL;
  private timers = new Set<NodeJS.Timeout>();
  private powered = false;
  private linkUp = true;
  private epoch = 0;
  private inflight = false;
  /** A body that failed and will be sent again, byte for byte. */
  private pending: string | undefined;
  private backoff = 0;
  private eventTimer: NodeJS.Timeout | undefined;
  private dirty = false;
  private lastEventAt = Number.NEGATIVE_INFINITY;
  private lastSentVolts = 0;
  private sentLines = '';
  online = false;

  constructor(private readonly opts: HttpDeviceOptions) {
    this.name = opts.name;
    this.clock = opts.clock ?? realClock;
    this.stats = opts.stats ?? new SimStats();
    this.url = new URL(`/api/v1/${encodeURIComponent(opts.token)}/telemetry`, opts.baseUrl);
    this.state = new SensedState(opts.nominalVolts ?? 229.5, opts.voltsJitter ?? 1, createRandom(opts.seed ?? 1));
    this.ota = opts.ota ? new OtaClient(opts.ota) : undefined;
  }

  start(): void {
    this.powered = true;
    this.boot(0);
  }

  async stop(): Promise<void> {
    this.ota?.onSessionEnd();
    this.powered = false;
    this.epoch++;
    this.clearTimers();
    this.setOnline(false);
  }

  setLine(line: number, powered: boolean): void {
    this.state.lines[line - 1] = powered;
    if (this.powered) this.requestEvent();
  }

  setVoltage(volts: number | null): void {
    this.state.override = volts;
  }

  setPower(on: boolean): void {
    if (on === this.powered) return;
    this.powered = on;
    this.epoch++;
    if (!on) this.ota?.onSessionEnd();
    this.clearTimers();
    this.setOnline(false);
    if (on) this.boot(this.opts.rebootMs ?? 8000);
  }

  setLink(up: boolean): void {
    this.linkUp = up;
  }

  private boot(delayMs: number): void {
    const epoch = this.epoch;
    this.pending = undefined;
    this.backoff = 0;
    this.dirty = false;
    this.inflight = false;
    this.lastEventAt = Number.NEGATIVE_INFINITY;
    this.later(delayMs, () => {
      this.sendSnapshot(epoch);
      this.periodic(epoch);
      this.sample(epoch);
    });
  }

  private periodic(epoch: number): void {
    this.later(this.opts.periodicMs ?? 900_000, () => {
      if (!this.inflight && this.pending === undefined) this.sendSnapshot(epoch);
      this.periodic(epoch);
    });
  }

  /** Voltage sampling: a move of ≥ 20 V since the last send is an event. */
  private sample(epoch: number): void {
    this.later(this.opts.sampleMs ?? 30_000, () => {
      if (Math.abs(this.state.volts() - this.lastSentVolts) >= (this.opts.voltsDelta ?? 20)) this.requestEvent();
      this.sample(epoch);
    });
  }

  /** Line change or voltage jump: send now, or as soon as the 5 s event limit and any retry allow. */
  private requestEvent(): void {
    this.dirty = true;
    if (this.inflight || this.pending !== undefined || this.eventTimer) return;
    const wait = this.lastEventAt + (this.opts.eventGapMs ?? 5000) - this.clock.now();
    if (wait <= 0) {
      this.sendSnapshot(this.epoch, true);
      return;
    }
    const epoch = this.epoch;
    this.eventTimer = this.later(wait, () => {
      this.eventTimer = undefined;
      if (this.dirty && !this.inflight && this.pending === undefined) this.sendSnapshot(epoch, true);
    });
  }

  private snapshot(): string {
    const volts = this.state.volts();
    this.lastSentVolts = volts;
    this.sentLines = this.state.lines.join();
    if (!this.opts.timestamped) return httpSnapshotBody(volts, this.state.lines);
    const lines = LINE_NUMBERS.map((n) => [n, this.state.lines[n - 1] === true] as const);
    return timestampedPayload({ ts: this.clock.now(), volts, lines });
  }

  private sendSnapshot(epoch: number, isEvent = false): void {
    if (epoch !== this.epoch || !this.powered) return;
    if (isEvent) this.lastEventAt = this.clock.now();
    this.dirty = false;
    void this.post(epoch, this.snapshot());
  }

  private async post(epoch: number, body: string): Promise<void> {
    this.inflight = true;
    const t0 = performance.now();
    const status = this.linkUp ? await this.postOnce(body) : 0;
    if (epoch !== this.epoch) return;
    this.inflight = false;
    if (status === 200 || status === 204) {
      this.stats.httpOk++;
      this.stats.httpLatency.record(performance.now() - t0);
      this.pending = undefined;
      this.backoff = 0;
      this.setOnline(true);
      if (this.ota && this.otaEpoch !== epoch) this.otaSession(epoch, this.ota);
      if (this.dirty || this.sentLines !== this.state.lines.join()) this.requestEvent();
      return;
    }
    this.stats.httpFailed++;
    this.pending = body;
    this.backoff = Math.min(
      this.backoff === 0 ? (this.opts.backoffMinMs ?? 5000) : this.backoff * 2,
      this.opts.backoffMaxMs ?? 600_000,
    );
    this.setOnline(false);
    this.later(this.backoff, () => {
      if (this.pending !== undefined) void this.post(epoch, this.pending);
    });
  }

  /** After the boot snapshot went through: the OTA client asks for its target, then polls. */
  private otaSession(epoch: number, ota: OtaClient): void {
    this.otaEpoch = epoch;
    const o = this.opts;
    // A reboot (or a simulated drop) is a power cycle; the partial image survives it.
    const cycle = (comeBack: boolean) => {
      if (epoch !== this.epoch) return;
      this.setPower(false);
      if (comeBack) this.setPower(true);
    };
    ota.onSession(
      httpOtaLink({
        baseUrl: o.baseUrl,
        token: o.token,
        ...(o.agent ? { agent: o.agent } : {}),
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
        report: async (json) => {
          const status = await this.postOnce(json);
          if (status !== 200 && status !== 204) throw new Error(`telemetry: HTTP ${status}`);
        },
        drop: () => cycle(true),
        reboot: cycle,
      }),
    );
    const poll = () =>
      this.later(o.ota?.pollMs ?? 60_000, () => {
        void ota.refresh();
        poll();
      });
    poll();
  }

  /** HTTP status, or 0 for a network error or timeout. */
  private postOnce(body: string): Promise<number> {
    return new Promise((resolve) => {
      const req = request(
        this.url,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
          timeout: this.opts.requestTimeoutMs ?? 10_000,
          ...(this.opts.agent ? { agent: this.opts.agent } : {}),
          ...(this.opts.localAddress ? { localAddress: this.opts.localAddress } : {}),
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', () => resolve(0));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve(0));
      req.end(body);
    });
  }

  private later(ms: number, fn: () => void): NodeJS.Timeout {
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.eventTimer = undefined;
  }

  private setOnline(online: boolean): void {
    if (online === this.online) return;
    this.online = online;
    countOnline(this.stats, this.opts, this.name, online);
  }
}
