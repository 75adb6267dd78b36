#!/usr/bin/env node
/**
 * spms-sim: fleet simulator CLI. Prints data (fleet JSON/CSV, stats) on stdout and progress
 * on stderr, so output can be piped into files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { FleetError, fleetToCsv, generateFleet, validateFleet } from './fleet.js';
import { loadTestParallel } from './load-parallel.js';
import { type LoadTestOptions, loadTest } from './load-test.js';
import { OTA_FAILURES, type OtaFailure } from './ota-client.js';
import { runScenario } from './run-scenario.js';
import { ScenarioError, validateScenario } from './scenario.js';
import { TargetError } from './targets.js';
import { expandScenario } from './timeline.js';
import { plannedGroundTruth } from './truth.js';

export const USAGE = `spms-sim — SPMS fleet simulator (loopback targets only)

  spms-sim run --fleet fleet.json --scenario scenarios/x.json
               [--mqtt mqtt://127.0.0.1:1883] [--http http://127.0.0.1:8080]
               [--speed 60] [--timestamped] [--truth truth.json] [--observed seen.json]
               [--qos 0|1] [--keepalive 60] [--reboot-ms 8000] [--ramp 500] [--settle-ms 30000]
      Boot the fleet, play the scenario (speed × real time), write the ground truth.
      Default: firmware-exact payloads, device timers in real time, truth in receive time.
      --timestamped: devices send {"ts","values"} from a virtual clock at --speed,
      starting at the scenario's "start" (default: its duration before now, so no
      timestamp is in the future); truth in that time base.
               [--ota] [--ota-title spms] [--ota-version 1.0.0] [--ota-chunk 4096]
               [--ota-fail checksum|drop|no-return|report-failed] [--ota-fail-share 1]
               [--provision-key KEY --provision-secret SECRET]
      --ota: every device runs ThingsBoard's OTA client (reports current_fw_*, follows the
      fw_* attributes, downloads in --ota-chunk byte chunks, verifies, reboots into the new
      version); --ota-fail injects a failure in --ota-fail-share of the devices.
      --provision-key/--provision-secret: MQTT devices provision themselves first
      (/provision/request), presenting their fleet credentials as their own.

  spms-sim fleet generate --count 10000 [--regions 9] [--http-share 0.1]
               [--buffered-share 0] [--seed 1] [--csv fleet.csv] > fleet.json
  spms-sim fleet csv --fleet fleet.json > devices.csv
      Synthetic fleet (unique MQTT Basic credentials) / the registry's CSV import format.

  spms-sim scenario check --scenario x.json [--fleet fleet.json] [--truth planned.json]
      Validate a scenario; print its timeline summary (and the planned truth).

  spms-sim load --mqtt mqtt://127.0.0.1:1883 --devices 1000 [--rate 500] --duration 30
               [--ramp 1000] [--qos 0|1] [--keepalive 60] [--fleet fleet.json] [--no-boot]
               [--line-share 0.02] [--source-addresses n] [--workers n] [--connect-timeout-ms 10000]
      Steady firmware-like load: boot sequences, then --rate msg/s (default devices/30, the
      firmware's 30 s voltage cadence), 2 % of them line changes; prints stats JSON
      (PUBACK latency p50/p99, memory) at the end.
      --workers n: split over n processes (each process holds at most "ulimit -n" sockets).
`;

const OPTIONS = {
  fleet: { type: 'string' },
  scenario: { type: 'string' },
  mqtt: { type: 'string' },
  http: { type: 'string' },
  speed: { type: 'string' },
  timestamped: { type: 'boolean' },
  truth: { type: 'string' },
  observed: { type: 'string' },
  qos: { type: 'string' },
  keepalive: { type: 'string' },
  'reboot-ms': { type: 'string' },
  ramp: { type: 'string' },
  'settle-ms': { type: 'string' },
  count: { type: 'string' },
  regions: { type: 'string' },
  'http-share': { type: 'string' },
  'buffered-share': { type: 'string' },
  seed: { type: 'string' },
  csv: { type: 'string' },
  devices: { type: 'string' },
  rate: { type: 'string' },
  duration: { type: 'string' },
  'no-boot': { type: 'boolean' },
  'source-addresses': { type: 'string' },
  workers: { type: 'string' },
  'line-share': { type: 'string' },
  'connect-timeout-ms': { type: 'string' },
  ota: { type: 'boolean' },
  'ota-title': { type: 'string' },
  'ota-version': { type: 'string' },
  'ota-chunk': { type: 'string' },
  'ota-fail': { type: 'string' },
  'ota-fail-share': { type: 'string' },
  'provision-key': { type: 'string' },
  'provision-secret': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

class UsageError extends Error {}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

function num(v: Values, key: keyof Values, dflt?: number): number {
  const raw = v[key];
  if (raw === undefined) {
    if (dflt === undefined) throw new UsageError(`--${key} is required`);
    return dflt;
  }
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new UsageError(`--${key}: not a number: ${raw}`);
  return n;
}

function req(v: Values, key: keyof Values): string {
  const s = v[key];
  if (typeof s !== 'string') throw new UsageError(`--${key} is required`);
  return s;
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UsageError(`${path}: ${(err as Error).message}`);
  }
}

/** --ota…: the simulator's OTA client options, or undefined without --ota. */
function otaOf(v: Values) {
  const fail = v['ota-fail'];
  if (!v.ota) {
    if (fail || v['ota-title'] || v['ota-version'] || v['ota-chunk'])
      throw new UsageError('--ota-… options need --ota');
    return undefined;
  }
  if (fail !== undefined && !(OTA_FAILURES as readonly string[]).includes(fail))
    throw new UsageError(`--ota-fail: one of ${OTA_FAILURES.join(', ')}`);
  const chunkSize = num(v, 'ota-chunk', 4096);
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new UsageError('--ota-chunk: a positive number of bytes');
  const failShare = num(v, 'ota-fail-share', 1);
  if (failShare < 0 || failShare > 1) throw new UsageError('--ota-fail-share: between 0 and 1');
  return {
    title: v['ota-title'] ?? 'spms',
    version: v['ota-version'] ?? '1.0.0',
    chunkSize,
    failShare,
    ...(fail ? { fail: fail as OtaFailure } : {}),
  };
}

function provisionOf(v: Values) {
  const key = v['provision-key'];
  const secret = v['provision-secret'];
  if (key === undefined && secret === undefined) return undefined;
  if (!key || !secret) throw new UsageError('--provision-key and --provision-secret go together');
  return { key, secret };
}

function qosOf(v: Values): 0 | 1 {
  const q = num(v, 'qos', 1);
  if (q !== 0 && q !== 1) throw new UsageError('--qos: 0 or 1');
  return q;
}

async function main(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  const [cmd, sub] = positionals;
  if (v.help || !cmd) {
    process.stdout.write(USAGE);
    return v.help ? 0 : 2;
  }
  const err = (s: string) => process.stderr.write(`${s}\n`);
  if (cmd === 'fleet' && sub === 'generate') {
    const fleet = generateFleet({
      count: num(v, 'count'),
      regions: num(v, 'regions', 9),
      httpShare: num(v, 'http-share', 0),
      bufferedShare: num(v, 'buffered-share', 0),
      ...(v.seed !== undefined ? { seed: num(v, 'seed') } : {}),
    });
    if (v.csv) writeFileSync(v.csv, fleetToCsv(fleet));
    process.stdout.write(`${JSON.stringify(fleet, null, 1)}\n`);
    return 0;
  }
  if (cmd === 'fleet' && sub === 'csv') {
    process.stdout.write(fleetToCsv(validateFleet(readJson(req(v, 'fleet')))));
    return 0;
  }
  if (cmd === 'scenario' && sub === 'check') {
    const fleet = v.fleet ? validateFleet(readJson(v.fleet)) : undefined;
    const known = fleet && {
      devices: new Set(fleet.devices.map((d) => d.name)),
      regions: new Set(fleet.devices.map((d) => d.region)),
    };
    const scenario = validateScenario(readJson(req(v, 'scenario')), known);
    const summary: Record<string, unknown> = {
      name: scenario.name,
      durationMs: scenario.duration,
      events: scenario.events.length,
    };
    if (fleet) {
      const timeline = expandScenario(scenario, fleet);
      summary.changes = timeline.length;
      const truth = plannedGroundTruth({
        scenario: scenario.name,
        timebase: 'device-ts',
        speed: 1,
        start: scenario.start ?? 0,
        fleet,
        timeline,
        duration: scenario.duration,
      });
      summary.outages = truth.outages.length;
      summary.offlineWindows = truth.offline.length;
      if (v.truth) writeFileSync(v.truth, `${JSON.stringify(truth, null, 1)}\n`);
    }
    process.stdout.write(`${JSON.stringify(summary)}\n`);
    return 0;
  }
  if (cmd === 'run') {
    const fleet = validateFleet(readJson(req(v, 'fleet')));
    const reboot = v['reboot-ms'] !== undefined ? { rebootMs: num(v, 'reboot-ms') } : {};
    const ota = otaOf(v);
    const provision = provisionOf(v);
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const result = await runScenario({
      fleet,
      scenario: readJson(req(v, 'scenario')),
      ...(v.mqtt ? { mqttUrl: v.mqtt } : {}),
      ...(v.http ? { httpUrl: v.http } : {}),
      speed: num(v, 'speed', 1),
      timestamped: v.timestamped ?? false,
      mqtt: { qos: qosOf(v), keepalive: num(v, 'keepalive', 60), ...reboot },
      http: { ...reboot },
      rampPerSecond: num(v, 'ramp', 500),
      settleMs: num(v, 'settle-ms', 30_000),
      log: err,
      signal: ac.signal,
      ...(ota ? { ota } : {}),
      ...(provision ? { provision } : {}),
    });
    if (v.truth) writeFileSync(v.truth, `${JSON.stringify(result.truth, null, 1)}\n`);
    if (v.observed) writeFileSync(v.observed, `${JSON.stringify(result.connectivity)}\n`);
    process.stdout.write(
      `${JSON.stringify({ stats: result.stats, notOnlineAtStart: result.notOnlineAtStart, outages: result.truth.outages.length, offline: result.truth.offline.length })}\n`,
    );
    return 0;
  }
  if (cmd === 'load') {
    const ac = new AbortController();
    process.once('SIGINT', () => ac.abort());
    const workers = num(v, 'workers', 1);
    const load = workers > 1 ? (o: LoadTestOptions) => loadTestParallel({ ...o, workers }) : loadTest;
    const result = await load({
      mqttUrl: v.mqtt ?? 'mqtt://127.0.0.1:1883',
      devices: num(v, 'devices'),
      rate: num(v, 'rate', num(v, 'devices') / 30),
      lineChangeShare: num(v, 'line-share', 0.02),
      durationS: num(v, 'duration'),
      rampPerSecond: num(v, 'ramp', 1000),
      qos: qosOf(v),
      keepalive: num(v, 'keepalive', 60),
      boot: !v['no-boot'],
      ...(v.fleet ? { fleet: validateFleet(readJson(v.fleet)) } : {}),
      ...(v['source-addresses'] ? { sourceAddresses: num(v, 'source-addresses') } : {}),
      connectTimeoutMs: num(v, 'connect-timeout-ms', 10_000),
      onProgress: (s) => err(`connected=${s.connected} published=${s.published} acked=${s.acked} errors=${s.errors}`),
      signal: ac.signal,
    });
    process.stdout.write(`${JSON.stringify(result, null, 1)}\n`);
    return 0;
  }
  throw new UsageError(`unknown command: ${positionals.join(' ')}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    const known =
      (e as { code?: string })?.code?.startsWith('ERR_PARSE_ARGS') === true ||
      e instanceof UsageError ||
      e instanceof FleetError ||
      e instanceof ScenarioError ||
      e instanceof TargetError;
    process.stderr.write(`spms-sim: ${known ? (e as Error).message : String((e as Error)?.stack ?? e)}\n`);
    if (e instanceof UsageError) process.stderr.write('run `spms-sim --help` for usage\n');
    process.exit(known ? 2 : 1);
  },
);
