import type { DeviceActivity } from './device-state.js';
import type { OutageEvent, OutageInterval } from './types.js';
import type { VoltageEpisode, VoltageEvent } from './voltage.js';

/**
 * Events that turn the stored intervals `before` into the recomputed `after` (one line).
 * Identity is by overlap in report order, so an outage whose start moved earlier is
 * 'changed', not removed + opened. diff(x, x) is empty: recomputation never emits twice.
 */
export function diffOutages(before: readonly OutageInterval[], after: readonly OutageInterval[]): OutageEvent[] {
  throw new Error('not implemented');
}

export function diffVoltageEpisodes(
  before: readonly VoltageEpisode[],
  after: readonly VoltageEpisode[],
): VoltageEvent[] {
  throw new Error('not implemented');
}

export type DeviceEvent =
  | { type: 'device.online'; at: number }
  | { type: 'device.offline'; at: number }
  | { type: 'device.connection_lost'; at: number }
  | { type: 'device.connection_restored'; at: number };

/** Events for a change of device state (each status change once). */
export function diffDeviceActivity(before: DeviceActivity | null, after: DeviceActivity): DeviceEvent[] {
  throw new Error('not implemented');
}
