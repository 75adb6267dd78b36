/**
 * Expands a scenario into the per-device state changes that really happen, in time order.
 * Overlapping causes are reference-counted (a line shed during a blackout stays off until
 * both are over), and only real transitions are emitted, so the timeline is also the
 * ground truth's source.
 */
import type { Fleet, FleetDevice } from './fleet.js';
import { createRandom, type Random } from './random.js';
import type { Scenario, ScenarioEvent, Target } from './scenario.js';

export type Change =
  | { kind: 'line'; line: number; powered: boolean }
  /** `null`: back to the device's normal supply voltage. */
  | { kind: 'voltage'; volts: number | null }
  /** The device's own supply: off = silent, no DISCONNECT; on = reboot. */
  | { kind: 'power'; on: boolean }
  /** The 4G link: down = silent while the device keeps running. */
  | { kind: 'link'; up: boolean };

export interface TimelineEntry {
  /** ms from scenario start. */
  t: number;
  device: string;
  change: Change;
}

interface Delta {
  t: number;
  seq: number;
  device: string;
  key: string;
  op: 'hold' | 'release' | 'reset';
  id: number;
  volts?: number;
}

export function resolveTarget(target: Target, fleet: Fleet, rnd: Random): FleetDevice[] {
  if (target === 'all') return fleet.devices;
  const names = new Set(target.devices ?? []);
  const regions = new Set(target.regions ?? []);
  const any = names.size > 0 || regions.size > 0;
  let out = fleet.devices.filter((d) => !any || names.has(d.name) || regions.has(d.region));
  if (target.share !== undefined && target.share < 1) {
    const shuffled = out.map((d) => ({ d, k: rnd() })).sort((a, b) => a.k - b.k);
    const keep = new Set(shuffled.slice(0, Math.round(target.share * out.length)).map((x) => x.d));
    out = out.filter((d) => keep.has(d));
  }
  return out;
}

export function expandScenario(scenario: Scenario, fleet: Fleet): TimelineEntry[] {
  const rnd = createRandom(scenario.seed);
  const deltas: Delta[] = [];
  let seq = 0;
  let id = 0;
  const add = (t: number, device: string, key: string, op: Delta['op'], hid: number, volts?: number) => {
    deltas.push({ t, seq: seq++, device, key, op, id: hid, ...(volts === undefined ? {} : { volts }) });
  };
  const hold = (t: number, dur: number | undefined, device: string, key: string, volts?: number) => {
    const hid = id++;
    add(t, device, key, 'hold', hid, volts);
    if (dur !== undefined) add(t + dur, device, key, 'release', hid);
  };
  for (const e of scenario.events) expandEvent(e, fleet, rnd, hold, add);
  deltas.sort((a, b) => a.t - b.t || a.seq - b.seq);
  return resolveDeltas(deltas, scenario.duration);
}

type Hold = (t: number, dur: number | undefined, device: string, key: string, volts?: number) => void;
type Add = (t: number, device: string, key: string, op: Delta['op'], id: number) => void;

function expandEvent(e: ScenarioEvent, fleet: Fleet, rnd: Random, hold: Hold, add: Add): void {
  const start = () => e.at + (e.stagger > 0 ? Math.floor(rnd() * e.stagger) : 0);
  if (e.action === 'load-shedding') {
    const groups = e.groups.map((g) => resolveTarget(g, fleet, rnd));
    let t = e.at;
    for (let r = 0; r < e.rounds; r++) {
      for (const devices of groups) {
        for (const d of devices) {
          const s = t + (e.stagger > 0 ? Math.floor(rnd() * e.stagger) : 0);
          for (const l of e.lines) hold(s, e.slot, d.name, `line:${l}`);
        }
        t += e.slot + e.gap;
      }
    }
    return;
  }
  for (const d of resolveTarget(e.target, fleet, rnd)) {
    const t0 = start();
    switch (e.action) {
      case 'lines-off':
        for (const l of e.lines) hold(t0, e.for, d.name, `line:${l}`);
        break;
      case 'lines-on':
        for (const l of e.lines) add(t0, d.name, `line:${l}`, 'reset', -1);
        break;
      case 'flap':
        for (let k = 0; k < e.count; k++) {
          for (const l of e.lines) hold(t0 + k * (e.off + e.on), e.off, d.name, `line:${l}`);
        }
        break;
      case 'power-off':
        hold(t0, e.for, d.name, 'power');
        break;
      case 'link-down':
        hold(t0, e.for, d.name, 'link');
        break;
      case 'voltage':
        hold(t0, e.for, d.name, 'voltage', e.volts);
        break;
    }
  }
}

function resolveDeltas(deltas: Delta[], duration: number): TimelineEntry[] {
  // Active holds per device+key, in arrival order (the newest voltage override wins).
  const active = new Map<string, Delta[]>();
  const out: TimelineEntry[] = [];
  for (const d of deltas) {
    if (d.t > duration) break;
    const k = `${d.device}\u0000${d.key}`;
    const list = active.get(k) ?? [];
    const before = effective(d.key, list);
    if (d.op === 'hold') list.push(d);
    else if (d.op === 'release') {
      const i = list.findIndex((h) => h.id === d.id);
      if (i >= 0) list.splice(i, 1);
    } else list.length = 0;
    active.set(k, list);
    const after = effective(d.key, list);
    if (before !== after) out.push({ t: d.t, device: d.device, change: toChange(d.key, after) });
  }
  return out;
}

/** The key's current value as a comparable primitive: held or not, or the override voltage. */
function effective(key: string, list: Delta[]): boolean | number | null {
  if (key === 'voltage') return list.at(-1)?.volts ?? null;
  return list.length > 0;
}

function toChange(key: string, value: boolean | number | null): Change {
  if (key === 'power') return { kind: 'power', on: value === false };
  if (key === 'link') return { kind: 'link', up: value === false };
  if (key === 'voltage') return { kind: 'voltage', volts: value as number | null };
  return { kind: 'line', line: Number(key.slice(5)), powered: value === false };
}
