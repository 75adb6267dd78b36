/**
 * Runs a scenario against a server: boots the fleet, waits until it is online, plays the
 * timeline at `speed`, and returns the ground truth of what really happened.
 */
import { Agent } from 'node:http';
import { type Clock, createClock, realClock } from './clock.js';
import type { SimDevice } from './device-state.js';
import type { Fleet, FleetDevice } from './fleet.js';
import { createHttpDevice, type HttpDeviceOptions } from './http-device.js';
import { createMqttDevice, type MqttDeviceOptions } from './mqtt-device.js';
import type { OtaOptions } from './ota-client.js';
import type { ProvisionRequest } from './provision-client.js';
import { hashString } from './random.js';
import { type Scenario, validateScenario } from './scenario.js';
import { SimStats } from './stats.js';
import { mqttTarget, parseLoopbackUrl, sourceAddress } from './targets.js';
import { expandScenario } from './timeline.js';
import { type AppliedChange, computeGroundTruth, type GroundTruth } from './truth.js';

export type MqttTiming = Pick<
  MqttDeviceOptions,
  'rebootMs' | 'bootSpacingMs' | 'voltageIntervalMs' | 'connectTimeoutMs' | 'qos' | 'keepalive'
>;
export type HttpTiming = Pick<
  HttpDeviceOptions,
  'rebootMs' | 'eventGapMs' | 'periodicMs' | 'sampleMs' | 'backoffMinMs' | 'backoffMaxMs' | 'requestTimeoutMs'
>;

export interface RunScenarioOptions {
  fleet: Fleet;
  /** A validated scenario, or the parsed JSON of a scenario file. */
  scenario: Scenario | unknown;
  mqttUrl?: string;
  httpUrl?: string;
  /** Scenario time per real time (default 1). */
  speed?: number;
  /** Devices send `ts` from a virtual clock running at `speed`; truth is in that time base. */
  timestamped?: boolean;
  mqtt?: MqttTiming;
  http?: HttpTiming;
  /** Device boots per second (default 500). */
  rampPerSecond?: number;
  /** Longest wait, real ms, for the fleet to come online before the timeline starts (default 30 000). */
  settleMs?: number;
  /** Number of 127.0.0.x source addresses (default: one per 20 000 devices). */
  sourceAddresses?: number;
  log?: (msg: string) => void;
  signal?: AbortSignal;
  /**
   * Every device runs ThingsBoard's OTA client (off by default). `failShare` (default 1): the
   * share of devices, picked by a hash of the name, that get `fail`; `pollMs`: HTTP devices' attribute poll.
   */
  ota?: OtaOptions & { failShare?: number; pollMs?: number };
  /**
   * MQTT devices provision themselves with this key/secret before their first CONNECT,
   * presenting their fleet credentials as their own (the profile must accept device credentials).
   */
  provision?: { key: string; secret: string };
}

/** The OTA options of one device: `fail` only for its share of the fleet. */
function otaFor(name: string, ota: NonNullable<RunScenarioOptions['ota']>): OtaOptions & { pollMs?: number } {
  const { failShare = 1, ...rest } = ota;
  if (rest.fail === undefined || (hashString(`ota:${name}`) % 10_000) / 10_000 < failShare) return rest;
  const { fail: _fail, ...healthy } = rest;
  return healthy;
}

function provisionCredentials(c: FleetDevice['credentials']): NonNullable<ProvisionRequest['credentials']> {
  return c.type === 'MQTT_BASIC'
    ? { credentialsType: 'MQTT_BASIC', clientId: c.clientId, username: c.username, password: c.password }
    : { credentialsType: 'ACCESS_TOKEN', token: c.token };
}

export interface RunResult {
  truth: GroundTruth;
  stats: ReturnType<SimStats['toJSON']>;
  /** Online/offline transitions as the simulator saw them (MQTT session up; HTTP last POST succeeded). */
  connectivity: Array<{ device: string; online: boolean; time: number }>;
  /** Devices not online when the timeline started. */
  notOnlineAtStart: string[];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function runScenario(opts: RunScenarioOptions): Promise<RunResult> {
  const { fleet } = opts;
  const known = {
    devices: new Set(fleet.devices.map((d) => d.name)),
    regions: new Set(fleet.devices.map((d) => d.region)),
  };
  const scenario = isScenario(opts.scenario) ? opts.scenario : validateScenario(opts.scenario, known);
  const speed = opts.speed ?? 1;
  const timestamped = opts.timestamped ?? false;
  // Without a start of its own, a timestamped run ends at the moment it began: a clock faster
  // than real time never stamps the future (gateways refuse ts more than 10 min ahead).
  const clock: Clock = timestamped
    ? createClock(
        scenario.start !== undefined
          ? { speed, start: scenario.start }
          : { speed, start: Date.now() - scenario.duration, notAfter: Date.now() },
      )
    : realClock;
  const stats = new SimStats();
  const connectivity: RunResult['connectivity'] = [];
  const onOnline = (device: string, online: boolean) => connectivity.push({ device, online, time: clock.now() });
  const log = opts.log ?? (() => {});
  const devices = new Map<string, SimDevice>();
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const addrs = opts.sourceAddresses ?? Math.ceil(fleet.devices.length / 20_000);
  fleet.devices.forEach((d, i) => {
    devices.set(d.name, makeDevice(d, i, { ...opts, scenario, clock, stats, onOnline, agent, timestamped, addrs }));
  });

  const ramp = opts.rampPerSecond ?? 500;
  let i = 0;
  for (const d of devices.values()) {
    if (opts.signal?.aborted) break;
    d.start();
    if (++i % Math.max(1, Math.floor(ramp / 10)) === 0) await sleep(100, opts.signal);
  }
  const settleUntil = Date.now() + (opts.settleMs ?? 30_000);
  while (stats.connected < devices.size && Date.now() < settleUntil && !opts.signal?.aborted) await sleep(50);
  const notOnlineAtStart = [...devices.values()].filter((d) => !d.online).map((d) => d.name);
  log(`fleet online: ${devices.size - notOnlineAtStart.length}/${devices.size}; starting "${scenario.name}"`);

  const timeline = expandScenario(scenario, fleet);
  const applied: AppliedChange[] = [];
  const t0Wall = Date.now();
  const start = clock.now();
  for (const entry of timeline) {
    const wait = t0Wall + entry.t / speed - Date.now();
    if (wait > 0) await sleep(wait, opts.signal);
    if (opts.signal?.aborted) break;
    const dev = devices.get(entry.device);
    if (!dev) continue;
    const c = entry.change;
    if (c.kind === 'line') dev.setLine(c.line, c.powered);
    else if (c.kind === 'voltage') dev.setVoltage(c.volts);
    else if (c.kind === 'power') dev.setPower(c.on);
    else dev.setLink(c.up);
    applied.push({ time: clock.now(), device: entry.device, change: c });
  }
  const remaining = t0Wall + scenario.duration / speed - Date.now();
  if (remaining > 0) await sleep(remaining, opts.signal);
  const end = clock.now();
  log(`scenario "${scenario.name}" done: ${applied.length} changes applied`);
  await Promise.all([...devices.values()].map((d) => d.stop(true)));
  agent.destroy();
  const truth = computeGroundTruth({
    scenario: scenario.name,
    timebase: timestamped ? 'device-ts' : 'receive-time',
    speed,
    start,
    end,
    fleet,
    changes: applied,
  });
  return { truth, stats: stats.toJSON(), connectivity, notOnlineAtStart };
}

function isScenario(s: unknown): s is Scenario {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as Scenario).duration === 'number' &&
    typeof (s as Scenario).nominalVolts === 'number'
  );
}

interface MakeCtx extends RunScenarioOptions {
  scenario: Scenario;
  clock: Clock;
  stats: SimStats;
  onOnline: (device: string, online: boolean) => void;
  agent: Agent;
  timestamped: boolean;
  addrs: number;
}

function makeDevice(d: FleetDevice, i: number, ctx: MakeCtx): SimDevice {
  // Each cabinet sits a little off nominal (±3 V, fixed per device) so charts are not one line.
  const nominalVolts = ctx.scenario.nominalVolts + (((i * 7919) % 61) - 30) / 10;
  const common = {
    name: d.name,
    clock: ctx.clock,
    stats: ctx.stats,
    onOnline: ctx.onOnline,
    timestamped: ctx.timestamped,
    nominalVolts,
    voltsJitter: ctx.scenario.voltsJitter,
    seed: i + 1,
  };
  const c = d.credentials;
  if (d.transport === 'http') {
    if (!ctx.httpUrl) throw new Error(`device ${d.name} uses HTTP: --http URL required`);
    if (c.type !== 'ACCESS_TOKEN') throw new Error(`device ${d.name}: HTTP needs an access token`);
    parseLoopbackUrl(ctx.httpUrl, ['http:']);
    const localAddress = sourceAddress(i, ctx.addrs, '127.');
    return createHttpDevice({
      ...common,
      ...ctx.http,
      baseUrl: ctx.httpUrl,
      token: c.token,
      agent: ctx.agent,
      ...(ctx.ota ? { ota: otaFor(d.name, ctx.ota) } : {}),
      ...(localAddress ? { localAddress } : {}),
    });
  }
  if (!ctx.mqttUrl) throw new Error(`device ${d.name} uses MQTT: --mqtt URL required`);
  const { host, port } = mqttTarget(ctx.mqttUrl);
  const localAddress = sourceAddress(i, ctx.addrs, host);
  const creds =
    c.type === 'MQTT_BASIC'
      ? { clientId: c.clientId, username: c.username, password: c.password }
      : { clientId: d.name, username: c.token };
  return createMqttDevice({
    ...common,
    ...ctx.mqtt,
    ...creds,
    host,
    port,
    behaviour: d.behaviour ?? 'firmware',
    ...(localAddress ? { localAddress } : {}),
    ...(ctx.ota ? { ota: otaFor(d.name, ctx.ota) } : {}),
    ...(ctx.provision ? { provision: { ...ctx.provision, credentials: provisionCredentials(c) } } : {}),
  });
}
