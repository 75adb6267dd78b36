/**
 * End to end against the simulator's ground truth: a 3-device MQTT fleet plays a 30-minute
 * scenario in timestamped mode (ThingsBoard-style `ts` from a virtual clock, 240× real time)
 * through the real gateway and worker; the `outages` rows must match the truth's outages.
 */
import { createLogger } from '@spms/log';
import { type Fleet, type GroundTruth, runScenario } from '@spms/simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type E2eStack, startE2eStack } from './test-support/stack.js';

const logger = createLogger({ name: 'e2e-truth', level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
const SPEED = 240; // 30 scenario-minutes in 7.5 s of wall time
// Edges are stamped by the same virtual clock the truth reads, so only scheduling jitter
// (wall ms × SPEED) separates them; 15 virtual s (~60 wall ms) is half the shortest flap.
const TOLERANCE_MS = 15_000;
const REBOOT_MS = 8_000; // device time, like the firmware

const lines = ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'];
const device = (name: string, i: number): Fleet['devices'][number] => ({
  name,
  region: 'Western',
  latitude: 6.9 + i / 100,
  longitude: 79.86,
  transport: 'mqtt',
  behaviour: 'firmware',
  credentials: { type: 'MQTT_BASIC', clientId: `${name}-cid`, username: `${name}-user`, password: `${name}-pw` },
  lines,
});
const fleet: Fleet = { devices: [device('truth_A', 0), device('truth_B', 1), device('truth_C', 2)] };

const scenario = {
  name: 'e2e-truth',
  duration: '30m',
  seed: 7,
  // Device time two hours in the past, so no `ts` is ever in the future.
  start: new Date(Date.now() - 2 * 3_600_000).toISOString(),
  events: [
    { at: '5m', action: 'lines-off', target: { devices: ['truth_A'] }, lines: [3], for: '8m' },
    { at: '10m', action: 'flap', target: { devices: ['truth_B'] }, lines: [5], off: '30s', on: '60s', count: 3 },
    // C's 4G link is down 15m–21m; line 2 is lost at 17m (unseen) and comes back at 27m (seen).
    { at: '15m', action: 'link-down', target: { devices: ['truth_C'] }, for: '6m' },
    { at: '17m', action: 'lines-off', target: { devices: ['truth_C'] }, lines: [2], for: '10m' },
  ],
};

let stack: E2eStack;
let sql: E2eStack['sql'];
let gateway: E2eStack['gateway'];
const ids = new Map<string, string>(); // device name → id

beforeAll(async () => {
  stack = await startE2eStack('e2e_truth', logger);
  ({ sql, gateway } = stack);
  for (const d of fleet.devices) {
    if (d.credentials.type !== 'MQTT_BASIC') throw new Error('fleet is MQTT Basic only');
    ids.set(d.name, await stack.addMqttDevice(d.name, d.credentials));
  }
});

afterAll(async () => {
  await stack?.close();
});

interface Row {
  name: string;
  line: number;
  s: number;
  e: number | null;
  wf: number | null;
  wt: number | null;
}

const ms = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
const recorded = async (): Promise<Row[]> =>
  (
    await sql.query(
      `SELECT d.name, o.line, ${ms('o.started_at')} AS s, ${ms('o.ended_at')} AS e,
              ${ms('o.start_window_from')} AS wf, ${ms('o.start_window_to')} AS wt
         FROM outages o JOIN devices d ON d.id = o.device_id ORDER BY d.name, o.started_at, o.line`,
    )
  ).rows;

/** Polls until the rows stop changing and every expected closed outage is closed (bounded). */
async function drained(truth: GroundTruth, timeoutMs = 15_000): Promise<Row[]> {
  const end = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const rows = await recorded();
    const text = JSON.stringify(rows);
    const closed = rows.filter((r) => r.e !== null).length;
    if (text === last && closed >= truth.outages.filter((o) => o.end !== null).length) return rows;
    if (Date.now() > end) return rows; // the assertions below say what is missing
    last = text;
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe('outage engine against the simulator ground truth (timestamped)', () => {
  it('records exactly the outages the scenario caused, with device-time edges', async () => {
    const { truth, notOnlineAtStart, connectivity } = await runScenario({
      fleet,
      scenario,
      mqttUrl: `mqtt://127.0.0.1:${gateway.mqttPort}`,
      speed: SPEED,
      timestamped: true,
      mqtt: { rebootMs: REBOOT_MS, bootSpacingMs: 10 },
      settleMs: 10_000,
    });
    expect(notOnlineAtStart).toEqual([]);
    expect(truth.timebase).toBe('device-ts');
    // The scenario as planned: A one outage, B three flaps, C one outage that began unseen.
    expect(truth.outages.map((o) => `${o.device}/${o.line}/${o.startObservable}`)).toEqual([
      'truth_A/3/true',
      'truth_B/5/true',
      'truth_B/5/true',
      'truth_B/5/true',
      'truth_C/2/false',
    ]);

    const rows = await drained(truth);
    if (process.env.TRUTH_DEBUG) console.log(JSON.stringify({ truth, rows }, null, 1));
    expect(rows.map((r) => `${r.name}/${r.line}`)).toEqual(truth.outages.map((o) => `${o.device}/${o.line}`));
    truth.outages.forEach((t, i) => {
      const r = rows[i] as Row;
      const at = `${t.device} line ${t.line} #${i}`;
      if (t.end === null) expect(r.e, at).toBeNull();
      else expect(Math.abs((r.e as number) - t.end), `${at} end`).toBeLessThanOrEqual(TOLERANCE_MS);
      if (t.startObservable) {
        expect(Math.abs(r.s - t.start), `${at} start`).toBeLessThanOrEqual(TOLERANCE_MS);
        expect(r.wf, `${at} exact start has no window`).toBeNull();
      } else {
        // Lost while the device was offline: a firmware device only reports its lines again
        // in the boot sequence after reconnecting, so the server first sees the line
        // unpowered then (reboot + boot spacing after the link came back).
        const off = truth.offline.find((o) => o.device === t.device && o.start <= t.start);
        expect(off?.end, at).toBeTypeOf('number');
        expect(r.s, `${at} first seen unpowered`).toBeGreaterThanOrEqual(off?.end as number);
        // …stamped with the moment it booted and read its inputs: its first connection after
        // the link came back (when that was depends on CONNACK latency × SPEED, not asserted).
        const back = connectivity.find((c) => c.device === t.device && c.online && c.time >= (off?.end as number));
        expect(back, `${at} reconnected`).toBeDefined();
        expect(Math.abs(r.s - (back?.time as number)), `${at} first seen unpowered at boot`).toBeLessThanOrEqual(
          TOLERANCE_MS,
        );
        // Device-time unknown window: from the device's last report before the link went
        // down to its first report after, so it brackets the true (unseen) start.
        expect(r.wf, `${at} start window from`).toBeTypeOf('number');
        expect(r.wt, `${at} start window to`).toBeTypeOf('number');
        expect(r.wf as number, `${at} window from ≤ truth start`).toBeLessThanOrEqual(t.start);
        expect(r.wf as number, `${at} window from ≈ link down`).toBeGreaterThanOrEqual(
          (off?.start as number) - TOLERANCE_MS - 60_000,
        );
        expect(r.wt as number, `${at} window to ≥ truth start`).toBeGreaterThanOrEqual(t.start);
        expect(r.wt as number, `${at} window to ≤ first seen`).toBeLessThanOrEqual(r.s);
      }
    });
  }, 40_000);
});
