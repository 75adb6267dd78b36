import type { MsgKey, TimeWindow } from './types.js';

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

export function validateVoltage(
  value: unknown,
  range: { min: number; max: number } = DEFAULT_VOLTAGE_RANGE,
): VoltageValidation {
  throw new Error('not implemented');
}

export interface VoltageEpisode {
  kind: 'under' | 'over';
  startedAt: number;
  startMsgId: string;
  startWindow: TimeWindow | null;
  endedAt: number | null;
  endMsgId: string | null;
  endWindow: TimeWindow | null;
  unknownMs: number;
  durationMs: number | null;
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
  throw new Error('not implemented');
}

/** Under-/over-voltage episodes from samples (any order, duplicates allowed, already valid). */
export function computeVoltageEpisodes(
  samples: readonly VoltageSample[],
  limits: VoltageLimits,
  unknown: readonly TimeWindow[],
  opts?: { anchor?: VoltageState | null },
): VoltageEpisode[] {
  throw new Error('not implemented');
}
