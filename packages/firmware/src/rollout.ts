/**
 * Staged rollouts, the pure half: how a rollout's devices are split into waves, and what one
 * tick of the controller does (apps/worker/src/rollouts). No I/O: the controller reads the
 * rollout and its devices, calls `decide` with the time, and writes what it returns.
 *
 * A device moves pending → assigned (its target set to the rollout's firmware) →
 * downloading (it reported progress) → updated (it reported UPDATED with the rollout's
 * version and has been heard from since) or failed (it reported FAILED, or was not updated
 * and back within the success timeout). A device that already runs the version when its
 * turn comes is skipped; it never takes a download slot.
 */
import { createHash } from 'node:crypto';
import type { FirmwareState } from './attributes.js';

export const ROLLOUT_STATUSES = ['running', 'paused', 'completed', 'cancelled'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

export const ROLLOUT_DEVICE_STATES = [
  'pending',
  'assigned',
  'downloading',
  'updated',
  'failed',
  'skipped',
  'cancelled',
] as const;
export type RolloutDeviceState = (typeof ROLLOUT_DEVICE_STATES)[number];

/** States a device leaves only through the controller (it holds a download slot unless pending). */
export const IN_FLIGHT: readonly RolloutDeviceState[] = ['assigned', 'downloading'];
export const FINISHED: readonly RolloutDeviceState[] = ['updated', 'failed', 'skipped', 'cancelled'];

/** The reported states that mean "working on it" (QUEUED is the server's, not the device's). */
const PROGRESS: readonly FirmwareState[] = ['INITIATED', 'DOWNLOADING', 'DOWNLOADED', 'VERIFIED', 'UPDATING'];

/** The wave percentages' problem, or null: 1–100, strictly increasing, the last 100. */
export function wavesProblem(waves: readonly number[]): string | null {
  if (waves.length === 0) return 'waves: give at least one percentage, the last 100 (e.g. [1, 10, 100])';
  for (const [i, p] of waves.entries()) {
    if (!Number.isInteger(p) || p < 1 || p > 100) return `waves[${i}]: ${p} is not a whole percentage from 1 to 100`;
    if (i > 0 && p <= (waves[i - 1] as number))
      return `waves: cumulative percentages must increase (${waves[i - 1]} then ${p})`;
  }
  if (waves[waves.length - 1] !== 100) return 'waves: the last wave must be 100 (every device of the scope)';
  return null;
}

/** A device's place in the rollout's order: a hash of the rollout and the device, so waves
 *  are a spread sample of the scope (not the oldest devices, not one region first). */
const rank = (seed: string, deviceId: string): string =>
  createHash('sha256').update(seed).update('\u0000').update(deviceId).digest('hex');

/**
 * Splits `deviceIds` into waves by cumulative percentages (validated by wavesProblem): wave
 * i ends at ceil(p_i × n / 100) devices, but every wave takes at least one device and leaves
 * at least one for each later wave. With fewer devices (n) than waves, the plan has n waves
 * of one device (the later waves would be empty and are dropped; the last wave of the plan
 * still ends at every device). Deterministic for a seed (the
 * rollout id): the same scope and seed give the same plan. Duplicate ids count once.
 */
export function planWaves(deviceIds: readonly string[], percentages: readonly number[], seed: string): string[][] {
  const problem = wavesProblem(percentages);
  if (problem) throw new Error(problem);
  const ranked = [...new Set(deviceIds)]
    .map((id) => ({ id, r: rank(seed, id) }))
    .sort((a, b) => (a.r < b.r ? -1 : a.r > b.r ? 1 : 0))
    .map((x) => x.id);
  const n = ranked.length;
  const waves: string[][] = [];
  const k = percentages.length;
  let end = 0;
  for (const [i, p] of percentages.entries()) {
    if (end >= n) break;
    // At least one device, and (when there are enough) one left for each later wave.
    const upper = Math.max(end + 1, n - (k - 1 - i));
    const next = Math.min(upper, Math.max(Math.ceil((p * n) / 100), end + 1));
    waves.push(ranked.slice(end, next));
    end = next;
  }
  return waves;
}

export interface RolloutView {
  status: RolloutStatus;
  /** 0-based index of the wave being rolled out. */
  currentWave: number;
  /** Number of waves of the plan (the highest device wave + 1). */
  waveCount: number;
  maxConcurrent: number;
  /** Pause when failed / attempted devices of the wave exceed this (0–1). */
  failureThreshold: number;
  /** null: three times each device's effective inactivity timeout. */
  successTimeoutSec: number | null;
  firmware: { title: string; version: string };
}

export interface RolloutDeviceView {
  deviceId: string;
  wave: number;
  state: RolloutDeviceState;
  /** epoch ms; set once assigned */
  assignedAt: number | null;
  /** What the device reported (device_firmware), null if nothing yet. */
  reported: {
    title: string | null;
    version: string | null;
    state: FirmwareState | null;
    /** epoch ms of the state report */
    stateAt: number | null;
    error: string | null;
  } | null;
  /** ThingsBoard's active flag and last activity (epoch ms). */
  active: boolean;
  lastActivityAt: number | null;
  /** The device's effective inactivity timeout (its own, else its profile's). */
  inactivityTimeoutSec: number;
  /** Its target is no longer the rollout's firmware (changed by hand since the assignment). */
  retargeted?: boolean;
}

export interface TickDecision {
  /** pending → assigned: set their target to the rollout's firmware now. */
  assign: string[];
  /** assigned → downloading (they reported progress). */
  downloading: string[];
  updated: string[];
  failed: { deviceId: string; error: string }[];
  /** In flight, but given another target outside the rollout: no longer the rollout's (not a failure). */
  cancelled: { deviceId: string; error: string }[];
  /** pending devices of the current wave that already run the version. */
  skipped: string[];
  /** Pause the rollout with this reason (nothing is assigned in this tick then). */
  pause: string | null;
  /** Move to this wave (its devices are assigned from the next tick on). */
  advanceTo: number | null;
  complete: boolean;
}

/**
 * A state report's time is the device's own `ts` when it sends one, activity is the server's
 * receive time: a device clock this far ahead still counts as heard from after its report.
 */
export const REPORT_CLOCK_SKEW_MS = 60_000;

/** The success timeout for a device, in ms. */
export const successTimeoutMs = (r: RolloutView, d: RolloutDeviceView): number =>
  (r.successTimeoutSec ?? 3 * d.inactivityTimeoutSec) * 1000;

/** The device reports the rollout's version (a device that reports no title is taken at its version). */
const runsVersion = (r: RolloutView, d: RolloutDeviceView): boolean =>
  d.reported !== null &&
  (d.reported.title === null || d.reported.title === r.firmware.title) &&
  d.reported.version === r.firmware.version &&
  d.reported.state !== 'FAILED';

/** What becomes of an in-flight device now: a new state (with an error when failed), or null. */
function follow(
  r: RolloutView,
  d: RolloutDeviceView,
  now: number,
): { state: RolloutDeviceState; error?: string } | null {
  const rep = d.reported;
  const assignedAt = d.assignedAt ?? now;
  // Reports older than the assignment belong to an earlier attempt.
  const fresh = rep?.stateAt !== null && rep?.stateAt !== undefined && rep.stateAt >= assignedAt;
  if (rep && fresh && rep.state === 'FAILED') return { state: 'failed', error: rep.error ?? 'device reported FAILED' };
  if (
    rep?.state === 'UPDATED' &&
    runsVersion(r, d) &&
    d.active &&
    d.lastActivityAt !== null &&
    rep.stateAt !== null &&
    d.lastActivityAt + REPORT_CLOCK_SKEW_MS >= rep.stateAt
  )
    return { state: 'updated' };
  const limit = successTimeoutMs(r, d);
  if (now - assignedAt > limit)
    return {
      state: 'failed',
      error: `not updated and back online within ${Math.round(limit / 1000)} s of the assignment`,
    };
  if (d.state === 'assigned' && rep && fresh && rep.state !== null && PROGRESS.includes(rep.state))
    return { state: 'downloading' };
  if (d.state === 'assigned' && rep?.state === 'UPDATED' && runsVersion(r, d)) return { state: 'downloading' };
  return null;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

/**
 * One tick of a rollout. A paused rollout still follows its in-flight devices (updated,
 * failed) but assigns nothing, skips nothing and neither pauses nor advances; a completed
 * or cancelled one does nothing.
 *
 * The failure rate of a wave is failed / (devices of the wave that finished — updated or
 * failed — or are in flight): devices not assigned yet have not had the chance to fail and
 * would dilute the rate (2 failures of the first 5 assigned are 40 %, not 2 % of a wave of
 * 100); skipped and cancelled ones were never tried. The rollout pauses when a tick marks a device of the current wave failed and
 * the rate then exceeds the threshold: a resumed rollout goes on until the next failure
 * (the operator who resumed has seen the failures so far).
 *
 * Devices are assigned in the order given (the controller passes them in plan order), at
 * most maxConcurrent in flight (assigned + downloading) across the rollout.
 */
export function decide(r: RolloutView, devices: readonly RolloutDeviceView[], now: number): TickDecision {
  const out: TickDecision = {
    assign: [],
    downloading: [],
    updated: [],
    failed: [],
    cancelled: [],
    skipped: [],
    pause: null,
    advanceTo: null,
    complete: false,
  };
  if (r.status !== 'running' && r.status !== 'paused') return out;
  const state = new Map<string, RolloutDeviceState>();
  let newFailuresInWave = 0;
  for (const d of devices) {
    state.set(d.deviceId, d.state);
    if (!IN_FLIGHT.includes(d.state)) continue;
    if (d.retargeted) {
      out.cancelled.push({ deviceId: d.deviceId, error: 'its target was changed outside the rollout' });
      state.set(d.deviceId, 'cancelled');
      continue;
    }
    const next = follow(r, d, now);
    if (!next || next.state === d.state) continue;
    state.set(d.deviceId, next.state);
    if (next.state === 'downloading') out.downloading.push(d.deviceId);
    else if (next.state === 'updated') out.updated.push(d.deviceId);
    else if (next.state === 'failed') {
      out.failed.push({ deviceId: d.deviceId, error: next.error ?? 'failed' });
      if (d.wave === r.currentWave) newFailuresInWave++;
    }
  }
  if (r.status !== 'running') return out;

  const wave = devices.filter((d) => d.wave === r.currentWave);
  for (const d of wave)
    if (d.state === 'pending' && runsVersion(r, d)) {
      out.skipped.push(d.deviceId);
      state.set(d.deviceId, 'skipped');
    }
  const count = (s: RolloutDeviceState) => wave.filter((d) => state.get(d.deviceId) === s).length;
  const failed = count('failed');
  const attempted = count('updated') + failed + count('assigned') + count('downloading');
  const rate = attempted > 0 ? failed / attempted : 0;
  if (newFailuresInWave > 0 && rate > r.failureThreshold) {
    out.pause =
      `wave ${r.currentWave + 1}: ${failed} of ${attempted} devices failed (${pct(rate)}), ` +
      `above the failure threshold of ${pct(r.failureThreshold)}`;
    return out;
  }
  let inFlight = devices.filter((d) => IN_FLIGHT.includes(state.get(d.deviceId) as RolloutDeviceState)).length;
  for (const d of wave) {
    if (inFlight >= r.maxConcurrent) break;
    if (state.get(d.deviceId) !== 'pending') continue;
    out.assign.push(d.deviceId);
    state.set(d.deviceId, 'assigned');
    inFlight++;
  }
  const waveDone = wave.every((d) => FINISHED.includes(state.get(d.deviceId) as RolloutDeviceState));
  if (waveDone) {
    if (r.currentWave + 1 < r.waveCount) out.advanceTo = r.currentWave + 1;
    else out.complete = true;
  }
  return out;
}
