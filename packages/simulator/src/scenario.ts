/**
 * Scenario files: what happens to the fleet, as data a user can write. Validation reports
 * every problem with its JSON path so a typo never turns into a silent no-op.
 */
import { parseDuration } from './duration.js';

/** Which devices an event hits: all of them, or the union of named devices and regions, optionally sampled. */
export type Target = 'all' | { devices?: string[]; regions?: string[]; share?: number };

interface Base {
  /** Offset from scenario start (duration). */
  at: number;
  target: Target;
  /** Spread each device's start uniformly over [0, stagger) so a blackout is not one millisecond. */
  stagger: number;
}

export type ScenarioEvent =
  | (Base & { action: 'lines-off'; lines: number[]; for?: number })
  | (Base & { action: 'lines-on'; lines: number[] })
  | (Base & { action: 'flap'; lines: number[]; off: number; on: number; count: number })
  | (Base & { action: 'power-off'; for?: number })
  | (Base & { action: 'link-down'; for?: number })
  | (Base & { action: 'voltage'; volts: number; for?: number })
  | (Omit<Base, 'target'> & {
      action: 'load-shedding';
      groups: Target[];
      lines: number[];
      slot: number;
      gap: number;
      rounds: number;
    });

export interface Scenario {
  name: string;
  description?: string;
  /** Scenario length in ms (offsets are relative to start). */
  duration: number;
  seed: number;
  /** Virtual start (epoch ms) for timestamped mode; default: `duration` before now, so the
   *  scenario's last timestamp is the moment the run began (never in the future). */
  start?: number;
  nominalVolts: number;
  voltsJitter: number;
  events: ScenarioEvent[];
}

export class ScenarioError extends Error {
  override name = 'ScenarioError';
}

const ACTIONS = ['lines-off', 'lines-on', 'flap', 'power-off', 'link-down', 'voltage', 'load-shedding'];

type Raw = Record<string, unknown>;

class Checker {
  readonly errors: string[] = [];
  fail(path: string, msg: string): undefined {
    this.errors.push(`${path}: ${msg}`);
    return undefined;
  }
  duration(o: Raw, key: string, path: string, required: boolean): number | undefined {
    if (o[key] === undefined) return required ? this.fail(`${path}.${key}`, 'required duration') : undefined;
    const ms = parseDuration(o[key]);
    if (ms === undefined)
      this.fail(`${path}.${key}`, `invalid duration ${JSON.stringify(o[key])} (e.g. 90, "30s", "1h30m")`);
    return ms;
  }
  lines(o: Raw, path: string): number[] {
    const v = o.lines ?? (o.line !== undefined ? [o.line] : undefined);
    if (!Array.isArray(v) || v.length === 0)
      return this.fail(`${path}.lines`, 'non-empty array of line numbers 1..8') ?? [];
    if (!v.every((n) => Number.isInteger(n) && n >= 1 && n <= 8))
      this.fail(`${path}.lines`, 'line numbers must be 1..8');
    return v as number[];
  }
  target(v: unknown, path: string): Target {
    if (v === undefined || v === 'all') return 'all';
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      return this.fail(path, '"all" or {devices?, regions?, share?}') ?? 'all';
    }
    const t = v as Raw;
    for (const k of Object.keys(t))
      if (!['devices', 'regions', 'share'].includes(k)) this.fail(`${path}.${k}`, 'unknown key');
    for (const k of ['devices', 'regions'] as const) {
      if (t[k] !== undefined && (!Array.isArray(t[k]) || !(t[k] as unknown[]).every((s) => typeof s === 'string'))) {
        this.fail(`${path}.${k}`, 'array of strings');
      }
    }
    if (t.share !== undefined && !(typeof t.share === 'number' && t.share > 0 && t.share <= 1)) {
      this.fail(`${path}.share`, 'number in (0, 1]');
    }
    return t as Target;
  }
  positiveInt(o: Raw, key: string, path: string, dflt?: number): number {
    const v = o[key] ?? dflt;
    if (!Number.isInteger(v) || (v as number) < 1) return this.fail(`${path}.${key}`, 'positive integer') ?? 1;
    return v as number;
  }
}

/**
 * Checks a parsed scenario file and normalises durations to ms. Throws one ScenarioError
 * listing every problem. With `known`, device names and regions must exist in the fleet.
 */
export function validateScenario(input: unknown, known?: { devices: Set<string>; regions: Set<string> }): Scenario {
  const c = new Checker();
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new ScenarioError('scenario: expected a JSON object');
  const s = input as Raw;
  if (typeof s.name !== 'string' || s.name === '') c.fail('name', 'required string');
  const duration = c.duration(s, 'duration', '$', true) ?? 0;
  let start: number | undefined;
  if (s.start !== undefined) {
    start = typeof s.start === 'number' ? s.start : Date.parse(String(s.start));
    if (!Number.isFinite(start)) c.fail('start', 'epoch ms or ISO date');
  }
  const volts = (s.voltage ?? {}) as Raw;
  const nominalVolts = volts.nominal ?? 229.5;
  const voltsJitter = volts.jitter ?? 1.0;
  if (typeof nominalVolts !== 'number' || nominalVolts < 0) c.fail('voltage.nominal', 'non-negative number');
  if (typeof voltsJitter !== 'number' || voltsJitter < 0) c.fail('voltage.jitter', 'non-negative number');
  if (!Array.isArray(s.events)) c.fail('events', 'required array');
  const events: ScenarioEvent[] = [];
  for (const [i, e] of ((s.events as Raw[] | undefined) ?? []).entries()) {
    const p = `events[${i}]`;
    if (typeof e !== 'object' || e === null) {
      c.fail(p, 'expected an object');
      continue;
    }
    const action = e.action as string;
    if (!ACTIONS.includes(action)) {
      c.fail(`${p}.action`, `one of ${ACTIONS.join(', ')}`);
      continue;
    }
    const at = c.duration(e, 'at', p, true) ?? 0;
    if (at > duration) c.fail(`${p}.at`, 'after the end of the scenario');
    const stagger = c.duration(e, 'stagger', p, false) ?? 0;
    const target = c.target(e.target, `${p}.target`);
    const base = { at, target, stagger };
    const dur = c.duration(e, 'for', p, false);
    const opt = dur === undefined ? {} : { for: dur };
    switch (action) {
      case 'lines-off':
        events.push({ ...base, action, lines: c.lines(e, p), ...opt });
        break;
      case 'lines-on':
        events.push({ ...base, action, lines: c.lines(e, p) });
        break;
      case 'flap':
        events.push({
          ...base,
          action,
          lines: c.lines(e, p),
          off: c.duration(e, 'off', p, true) ?? 1,
          on: c.duration(e, 'on', p, true) ?? 1,
          count: c.positiveInt(e, 'count', p),
        });
        break;
      case 'power-off':
      case 'link-down':
        events.push({ ...base, action, ...opt });
        break;
      case 'voltage':
        if (typeof e.volts !== 'number' || e.volts < 0) c.fail(`${p}.volts`, 'non-negative number');
        events.push({ ...base, action, volts: e.volts as number, ...opt });
        break;
      case 'load-shedding': {
        const groups = Array.isArray(e.groups) ? e.groups.map((g, j) => c.target(g, `${p}.groups[${j}]`)) : [];
        if (groups.length === 0) c.fail(`${p}.groups`, 'non-empty array of targets');
        events.push({
          action,
          at,
          stagger,
          groups,
          lines: c.lines(e, p),
          slot: c.duration(e, 'slot', p, true) ?? 1,
          gap: c.duration(e, 'gap', p, false) ?? 0,
          rounds: c.positiveInt(e, 'rounds', p, 1),
        });
        break;
      }
    }
    if (known) {
      const targets = action === 'load-shedding' ? ((events.at(-1) as { groups: Target[] }).groups ?? []) : [target];
      for (const t of targets) {
        if (t === 'all') continue;
        for (const d of t.devices ?? []) if (!known.devices.has(d)) c.fail(`${p}.target`, `unknown device "${d}"`);
        for (const r of t.regions ?? []) if (!known.regions.has(r)) c.fail(`${p}.target`, `unknown region "${r}"`);
      }
    }
  }
  if (c.errors.length > 0) throw new ScenarioError(`invalid scenario:\n  ${c.errors.join('\n  ')}`);
  return {
    name: s.name as string,
    ...(typeof s.description === 'string' ? { description: s.description } : {}),
    duration,
    seed: typeof s.seed === 'number' ? s.seed : 1,
    ...(start !== undefined ? { start } : {}),
    nominalVolts: nominalVolts as number,
    voltsJitter: voltsJitter as number,
    events,
  };
}
