/**
 * Ground truth: what really happened during a run, in the time base the server is expected
 * to record (receive time in firmware mode, the devices' `ts` in timestamped mode), so an
 * end-to-end test can compare the system's outages and offline periods against it.
 */
import type { Behaviour, Fleet, Transport } from './fleet.js';
import type { Change, TimelineEntry } from './timeline.js';

export interface AppliedChange {
  /** Epoch ms in the truth's time base. */
  time: number;
  device: string;
  change: Change;
}

export interface TruthOutage {
  device: string;
  line: number;
  label: string;
  start: number;
  /** `null`: still off when the scenario ended. */
  end: number | null;
  /** False when the device was offline at that instant: the server cannot see the edge when it happens. */
  startObservable: boolean;
  endObservable: boolean;
}

export interface TruthOffline {
  device: string;
  /** `power`: the device itself lost power (silent, no DISCONNECT). `link`: 4G down, device running. */
  cause: 'power' | 'link';
  start: number;
  end: number | null;
}

export interface TruthVoltage {
  device: string;
  volts: number;
  start: number;
  end: number | null;
}

export interface GroundTruth {
  version: 1;
  scenario: string;
  /** `receive-time`: firmware payloads, times are wall clock. `device-ts`: times are the `ts` values sent. */
  timebase: 'receive-time' | 'device-ts';
  speed: number;
  start: number;
  end: number;
  devices: Array<{ name: string; transport: Transport; behaviour: Behaviour; region: string }>;
  outages: TruthOutage[];
  offline: TruthOffline[];
  voltage: TruthVoltage[];
}

export interface TruthInput {
  scenario: string;
  timebase: GroundTruth['timebase'];
  speed: number;
  start: number;
  end: number;
  fleet: Fleet;
  changes: readonly AppliedChange[];
}

export function computeGroundTruth(input: TruthInput): GroundTruth {
  const labels = new Map(input.fleet.devices.map((d) => [d.name, d.lines]));
  const outages: TruthOutage[] = [];
  const offline: TruthOffline[] = [];
  const voltage: TruthVoltage[] = [];
  const openLine = new Map<string, TruthOutage>();
  const openOffline = new Map<string, TruthOffline>();
  const openVolts = new Map<string, TruthVoltage>();
  const changes = [...input.changes].sort((a, b) => a.time - b.time);
  for (const { time, device, change } of changes) {
    if (change.kind === 'line') {
      const key = `${device}#${change.line}`;
      const open = openLine.get(key);
      if (!change.powered && !open) {
        const o: TruthOutage = {
          device,
          line: change.line,
          label: labels.get(device)?.[change.line - 1] ?? `line ${change.line}`,
          start: time,
          end: null,
          startObservable: true,
          endObservable: false,
        };
        outages.push(o);
        openLine.set(key, o);
      } else if (change.powered && open) {
        open.end = time;
        openLine.delete(key);
      }
    } else if (change.kind === 'power' || change.kind === 'link') {
      const key = `${device}#${change.kind}`;
      const down = change.kind === 'power' ? !change.on : !change.up;
      const open = openOffline.get(key);
      if (down && !open) {
        const o: TruthOffline = { device, cause: change.kind, start: time, end: null };
        offline.push(o);
        openOffline.set(key, o);
      } else if (!down && open) {
        open.end = time;
        openOffline.delete(key);
      }
    } else {
      const open = openVolts.get(device);
      if (open) {
        open.end = time;
        openVolts.delete(device);
      }
      if (change.volts !== null) {
        const v: TruthVoltage = { device, volts: change.volts, start: time, end: null };
        voltage.push(v);
        openVolts.set(device, v);
      }
    }
  }
  const offlineAt = (device: string, t: number) =>
    offline.some((w) => w.device === device && w.start <= t && (w.end === null || t < w.end));
  for (const o of outages) {
    o.startObservable = !offlineAt(o.device, o.start);
    o.endObservable = o.end !== null && !offlineAt(o.device, o.end);
  }
  const byDevice = (a: { device: string; start: number }, b: { device: string; start: number }) =>
    a.device < b.device ? -1 : a.device > b.device ? 1 : a.start - b.start;
  return {
    version: 1,
    scenario: input.scenario,
    timebase: input.timebase,
    speed: input.speed,
    start: input.start,
    end: input.end,
    devices: input.fleet.devices.map((d) => ({
      name: d.name,
      transport: d.transport,
      behaviour: d.behaviour ?? 'firmware',
      region: d.region,
    })),
    outages: outages.sort((a, b) => byDevice(a, b) || a.line - b.line),
    offline: offline.sort(byDevice),
    voltage: voltage.sort(byDevice),
  };
}

/**
 * The truth a run *should* produce, without running it: scenario offset `t` happens at
 * `start + t / speed` (receive-time) or `start + t` (device-ts, the virtual clock).
 */
export function plannedGroundTruth(
  args: Omit<TruthInput, 'changes' | 'end'> & { timeline: readonly TimelineEntry[]; duration: number },
): GroundTruth {
  const scale = args.timebase === 'device-ts' ? 1 : 1 / args.speed;
  const at = (t: number) => args.start + Math.round(t * scale);
  const changes = args.timeline.map((e) => ({ time: at(e.t), device: e.device, change: e.change }));
  return computeGroundTruth({ ...args, end: at(args.duration), changes });
}
