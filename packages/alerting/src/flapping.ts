/**
 * Flapping with hysteresis (as Nagios does it, with counts instead of percentages): a line
 * enters flapping when it changed state `enterAt` times within `windowMs`, and leaves only
 * once fewer than `leaveBelow` changes remain in the window and none happened for `quietMs`.
 * Between the two thresholds it keeps its state, so it does not toggle on every change.
 */
export interface FlapOptions {
  enterAt: number;
  leaveBelow: number;
  windowMs: number;
  quietMs: number;
}

export type FlapDecision = 'enter' | 'stay' | 'leave' | 'none';

export function decideFlapping(
  flapping: boolean,
  /** Transition times (epoch ms), any order. */
  transitions: number[],
  now: number,
  o: FlapOptions,
): FlapDecision {
  const recent = transitions.filter((t) => t > now - o.windowMs);
  const last = transitions.reduce((m, t) => Math.max(m, t), Number.NEGATIVE_INFINITY);
  if (!flapping) return recent.length >= o.enterAt ? 'enter' : 'none';
  if (recent.length < o.leaveBelow && now - last >= o.quietMs) return 'leave';
  return 'stay';
}
