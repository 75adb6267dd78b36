/**
 * Steady firmware-like load for benchmarks: N MQTT sessions opened at a controlled ramp,
 * each sending the boot sequence, then `{'V':…}` messages at a fleet-wide rate, then a
 * clean stop. Bounded in count and time; returns the stats (PUBACK latency p50/p99 …).
 */
import type { Fleet } from './fleet.js';
import { LeanMqttClient } from './mqtt-client.js';
import { LINE_NUMBERS, mqttLinePayload, mqttVoltagePayload, TELEMETRY_TOPIC } from './payloads.js';
import { type RawStats, SimStats } from './stats.js';
import { mqttTarget, sourceAddress } from './targets.js';

export interface LoadTestOptions {
  mqttUrl: string;
  devices: number;
  /** Fleet-wide messages per second after the ramp (0 = hold idle connections; firmware cadence is devices / 30). */
  rate: number;
  /** Share of steady-phase messages that are line changes (a line toggling) instead of voltage (default 0.02). */
  lineChangeShare?: number;
  /** Seconds of steady load after the ramp. */
  durationS: number;
  /** New connections per second (default 1000). */
  rampPerSecond?: number;
  qos?: 0 | 1;
  keepalive?: number;
  /** Send the 8-message boot sequence after CONNACK, as the firmware does (default true). */
  boot?: boolean;
  /** Use these devices' MQTT Basic credentials (the server must know them); else synthetic `load-<i>` ids. */
  fleet?: Fleet;
  sourceAddresses?: number;
  connectTimeoutMs?: number;
  /** Cap on QoS 1 messages awaiting PUBACK; beyond it ticks are skipped and counted (default devices × 2). */
  maxInflight?: number;
  /** First device index (load workers each take a slice of one fleet). */
  indexOffset?: number;
  /** Also return the raw stats (histogram buckets) for merging across processes. */
  includeRaw?: boolean;
  onProgress?: (stats: SimStats) => void;
  signal?: AbortSignal;
}

export interface LoadTestResult {
  devices: number;
  connectedPeak: number;
  rampSeconds: number;
  durationS: number;
  ratePlanned: number;
  rateAchieved: number;
  skippedForBackpressure: number;
  memory: { rssMB: number; heapUsedMB: number; perConnectionKB: number };
  stats: ReturnType<SimStats['toJSON']>;
  raw?: RawStats;
  workers?: number;
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function loadTest(opts: LoadTestOptions): Promise<LoadTestResult> {
  const { host, port } = mqttTarget(opts.mqttUrl);
  const n = opts.devices;
  if (!Number.isInteger(n) || n < 1) throw new RangeError('devices: positive integer');
  if (opts.fleet && opts.fleet.devices.length < n + (opts.indexOffset ?? 0))
    throw new RangeError(`fleet has only ${opts.fleet.devices.length} devices`);
  const qos = opts.qos ?? 1;
  const stats = new SimStats();
  const addrs = opts.sourceAddresses ?? Math.max(1, Math.ceil(n / 20_000));
  const clients: LeanMqttClient[] = [];
  const live: LeanMqttClient[] = [];
  /** Per live session: bit l-1 set = line l currently off. */
  const offMask: number[] = [];
  let inflight = 0;
  let connectedPeak = 0;
  let closing = false;
  const mem0 = process.memoryUsage();

  const send = (c: LeanMqttClient, payload: string) => {
    const t0 = performance.now();
    stats.published++;
    inflight++;
    c.publish(TELEMETRY_TOPIC, payload, qos).then(
      () => {
        inflight--;
        if (qos === 1) {
          stats.acked++;
          stats.pubackLatency.record(performance.now() - t0);
        }
      },
      (err: unknown) => {
        inflight--;
        stats.error(err);
      },
    );
  };

  const offset = opts.indexOffset ?? 0;
  const open = async (local: number) => {
    const i = offset + local;
    const creds = opts.fleet?.devices[i]?.credentials;
    const c = new LeanMqttClient({
      host,
      port,
      ...(creds?.type === 'MQTT_BASIC'
        ? { clientId: creds.clientId, username: creds.username, password: creds.password }
        : creds?.type === 'ACCESS_TOKEN'
          ? { clientId: `load-${i}`, username: creds.token }
          : { clientId: `load-${i}`, username: `load-${i}`, password: `load-${i}` }),
      keepalive: opts.keepalive ?? 60,
      ...(opts.connectTimeoutMs ? { connectTimeoutMs: opts.connectTimeoutMs } : {}),
      ...(sourceAddress(i, addrs, host) ? { localAddress: sourceAddress(i, addrs, host) as string } : {}),
    });
    clients.push(c);
    stats.connectAttempts++;
    const t0 = performance.now();
    try {
      await c.connect();
    } catch (err) {
      if ((err as { returnCode?: number }).returnCode !== undefined) stats.refused++;
      else stats.error(err);
      return;
    }
    stats.connackLatency.record(performance.now() - t0);
    stats.connects++;
    stats.connected++;
    connectedPeak = Math.max(connectedPeak, stats.connected);
    live.push(c);
    offMask.push(0);
    c.once('close', () => {
      stats.connected--;
      if (!closing) stats.drops++;
    });
    if (opts.boot ?? true) for (const line of LINE_NUMBERS) send(c, mqttLinePayload(line, true));
  };

  // Ramp: open connections in 10 ms slices at the requested rate.
  const rampStart = Date.now();
  const ramp = opts.rampPerSecond ?? 1000;
  const pending: Promise<void>[] = [];
  let next = 0;
  while (next < n && !opts.signal?.aborted) {
    const due = Math.min(n, Math.floor(((Date.now() - rampStart) / 1000) * ramp) + 1);
    while (next < due) pending.push(open(next++));
    await tick(10);
  }
  await Promise.all(pending);
  const rampSeconds = (Date.now() - rampStart) / 1000;
  const mem1 = process.memoryUsage();

  // Steady phase: a fleet-wide budget of messages, round-robin over live sessions.
  const maxInflight = opts.maxInflight ?? n * 2;
  let skipped = 0;
  let cursor = 0;
  const share = opts.lineChangeShare ?? 0.02;
  const changeEvery = share > 0 ? Math.max(1, Math.round(1 / share)) : 0;
  const published0 = stats.published;
  const steadyStart = Date.now();
  let last = steadyStart;
  let budget = 0;
  let lastProgress = steadyStart;
  while (Date.now() - steadyStart < opts.durationS * 1000 && !opts.signal?.aborted) {
    await tick(10);
    const now = Date.now();
    budget += ((now - last) / 1000) * opts.rate;
    last = now;
    while (budget >= 1 && live.length > 0) {
      budget--;
      if (qos === 1 && inflight >= maxInflight) {
        skipped++;
        continue;
      }
      const k = cursor++ % live.length;
      const c = live[k] as LeanMqttClient;
      if (!c.connected) continue;
      if (changeEvery > 0 && cursor % changeEvery === 0) {
        const line = ((cursor / changeEvery) % 8) + 1;
        const mask = (offMask[k] ?? 0) ^ (1 << (line - 1));
        offMask[k] = mask;
        send(c, mqttLinePayload(line, (mask & (1 << (line - 1))) === 0));
      } else send(c, mqttVoltagePayload(229.4 + ((cursor % 20) - 10) / 10));
    }
    if (opts.onProgress && now - lastProgress >= 1000) {
      lastProgress = now;
      opts.onProgress(stats);
    }
  }
  const steadyS = (Date.now() - steadyStart) / 1000;
  const rateAchieved = (stats.published - published0) / steadyS;
  // Let the last PUBACKs arrive (bounded), then close politely.
  const drainUntil = Date.now() + 5000;
  while (inflight > 0 && Date.now() < drainUntil) await tick(20);
  closing = true;
  await Promise.all(clients.map((c) => c.end()));
  const mb = (b: number) => Math.round((b / 1048576) * 10) / 10;
  return {
    devices: n,
    connectedPeak,
    rampSeconds: Math.round(rampSeconds * 100) / 100,
    durationS: Math.round(steadyS * 100) / 100,
    ratePlanned: opts.rate,
    rateAchieved: Math.round(rateAchieved),
    skippedForBackpressure: skipped,
    memory: {
      rssMB: mb(mem1.rss),
      heapUsedMB: mb(mem1.heapUsed),
      perConnectionKB: connectedPeak ? Math.round(((mem1.rss - mem0.rss) / connectedPeak / 1024) * 10) / 10 : 0,
    },
    stats: stats.toJSON(),
    ...(opts.includeRaw ? { raw: stats.toRaw() } : {}),
  };
}
