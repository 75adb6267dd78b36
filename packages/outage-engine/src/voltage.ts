import { compareKeys, sortUnique } from './order.js';
import type { MsgKey, TimedInterval, TimeWindow } from './types.js';
import { unknownFrom } from './unknown-windows.js';

export interface VoltageSample extends MsgKey {
  volts: number;
}

export interface VoltageLimits {
  min: number;
  max: number;
  /** An episode closes only once a reading is back inside [min + h, max − h]. */
  hysteresis: number;
  /** Below this the supply is absent (an interruption, reported by the lines), not low. */
  interruptionBelow: number;
}

/** 230 V ± 6 %; interruption below 10 % of nominal (EN 50160 vocabulary). */
export const DEFAULT_VOLTAGE_LIMITS: VoltageLimits = { min: 216.2, max: 243.8, hysteresis: 2, interruptionBelow: 23 };

/** Physically sane readings for a 230 V input (firmware clamps < 0 to 0; no upper clamp). */
export const DEFAULT_VOLTAGE_RANGE = { min: 0, max: 400 } as const;

export type VoltageRejection = 'not_a_number' | 'below_range' | 'above_range';

export type VoltageValidation = { ok: true; volts: number } | { ok: false; reason: VoltageRejection };

/** Accepts a number (or numeric string) inside the sane range; says why otherwise. */
export function validateVoltage(
  value: unknown,
  range: { min: number; max: number } = DEFAULT_VOLTAGE_RANGE,
): VoltageValidation {
  const volts = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof volts !== 'number' || !Number.isFinite(volts)) return { ok: false, reason: 'not_a_number' };
  if (volts < range.min) return { ok: false, reason: 'below_range' };
  if (volts > range.max) return { ok: false, reason: 'above_range' };
  return { ok: true, volts };
}

/** Level of a reading given the previous level: leaving an episode needs the hysteresis margin. */
export function voltageLevel(volts: number, previous: VoltageLevel | null, limits: VoltageLimits): VoltageLevel {
  if (volts < limits.interruptionBelow) return 'absent';
  if (volts < limits.min) return 'under';
  if (volts > limits.max) return 'over';
  if (previous === 'under' && volts < limits.min + limits.hysteresis) return 'under';
  if (previous === 'over' && volts > limits.max - limits.hysteresis) return 'over';
  return 'normal';
}

export interface VoltageEpisode extends TimedInterval {
  kind: 'under' | 'over';
}

export type VoltageLevel = 'normal' | 'under' | 'over' | 'absent';

export interface VoltageState extends MsgKey {
  level: VoltageLevel;
  open: VoltageEpisode | null;
}

export type VoltageEvent =
  | { type: 'voltage.opened'; episode: VoltageEpisode }
  | { type: 'voltage.closed'; episode: VoltageEpisode; previous: VoltageEpisode | null }
  | { type: 'voltage.changed'; episode: VoltageEpisode; previous: VoltageEpisode }
  | { type: 'voltage.removed'; previous: VoltageEpisode };

export type VoltageStep =
  | { status: 'applied'; state: VoltageState; events: VoltageEvent[] }
  | { status: 'duplicate' | 'late'; state: VoltageState };

/** Hot-path step for a sample newer than the state's (validate it first). */
export function applyVoltageSample(
  state: VoltageState | null,
  sample: VoltageSample,
  limits: VoltageLimits,
  unknown: readonly TimeWindow[],
): VoltageStep {
  if (state !== null) {
    const order = compareKeys(sample, state);
    if (order === 0) return { status: 'duplicate', state };
    if (order < 0) return { status: 'late', state };
  }
  return { status: 'applied', ...transition(state, sample, limits, unknown) };
}

/** Same rules as the line outages: unknown stretches are not counted, windows recorded. */
function transition(
  state: VoltageState | null,
  s: VoltageSample,
  limits: VoltageLimits,
  unknown: readonly TimeWindow[],
): { state: VoltageState; events: VoltageEvent[] } {
  const level = voltageLevel(s.volts, state?.level ?? null, limits);
  const u = state === null ? null : unknownFrom(state.ts, s.ts, unknown);
  const events: VoltageEvent[] = [];
  let open = state?.open ?? null;
  if (open !== null && level === open.kind) {
    if (u !== null) {
      const continued = { ...open, unknownMs: open.unknownMs + (s.ts - u) };
      events.push({ type: 'voltage.changed', episode: continued, previous: open });
      open = continued;
    }
  } else if (open !== null) {
    const endedAt = u ?? s.ts;
    const closed: VoltageEpisode = {
      ...open,
      endedAt,
      endMsgId: s.msgId,
      endWindow: u === null ? null : { from: u, to: s.ts },
      durationMs: endedAt - open.startedAt - open.unknownMs,
    };
    events.push({ type: 'voltage.closed', episode: closed, previous: open });
    open = null;
  }
  if (open === null && (level === 'under' || level === 'over')) {
    // A reading out of limits is evidence by itself: unlike a line, the first one opens.
    open = {
      kind: level,
      startedAt: s.ts,
      startMsgId: s.msgId,
      startWindow: u === null ? null : { from: u, to: s.ts },
      endedAt: null,
      endMsgId: null,
      endWindow: null,
      unknownMs: 0,
      durationMs: null,
    };
    events.push({ type: 'voltage.opened', episode: open });
  }
  return { state: { ts: s.ts, msgId: s.msgId, level, open }, events };
}

/** Under-/over-voltage episodes from samples (any order, duplicates allowed, already valid). */
export function computeVoltageEpisodes(
  samples: readonly VoltageSample[],
  limits: VoltageLimits,
  unknown: readonly TimeWindow[],
  opts?: { anchor?: VoltageState | null },
): VoltageEpisode[] {
  let state = opts?.anchor ?? null;
  const episodes: VoltageEpisode[] = state?.open ? [state.open] : [];
  for (const sample of sortUnique(samples)) {
    if (state !== null && compareKeys(sample, state) <= 0) continue;
    const step = transition(state, sample, limits, unknown);
    state = step.state;
    for (const e of step.events) {
      if (e.type === 'voltage.opened') episodes.push(e.episode);
      else if (e.type !== 'voltage.removed') episodes[episodes.length - 1] = e.episode;
    }
  }
  return episodes;
}
