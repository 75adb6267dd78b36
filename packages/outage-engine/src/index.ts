/**
 * @spms/outage-engine — pure logic: line reports → outage intervals, unknown windows,
 * classification, whole-site grouping, voltage episodes, device activity state and the
 * exactly-once event diff. No I/O, no clock: callers pass `now`.
 */
export {
  classifyOutage,
  DEFAULT_MOMENTARY_THRESHOLD_MS,
  isOutageUncertain,
  lineUnknownSince,
  outageDurationMs,
} from './classification.js';
export {
  applyDeviceActivity,
  type ConnectivityKind,
  DEFAULT_INACTIVITY_TIMEOUT_MS,
  type DeviceActivity,
  type DeviceFacts,
  type DeviceStatus,
  deviceActivityState,
  EMPTY_DEVICE_FACTS,
} from './device-state.js';
export { type DeviceEvent, diffDeviceActivity, diffOutages, diffVoltageEpisodes } from './events-diff.js';
export {
  affectedOutages,
  anchorFromOutage,
  anchorFromReport,
  applyReport,
  computeLineOutages,
  type LineStep,
  outageStartKey,
  recomputeLine,
} from './line-outages.js';
export { compareKeys, latestLineState, sameKey, sortUnique } from './order.js';
export {
  DEFAULT_SITE_GROUP_WINDOW_MS,
  groupSiteOutages,
  isCabinetSupplyLabel,
  isUtilityFeedLabel,
  type LineInfo,
  type SiteEvent,
} from './site-grouping.js';
export type {
  LineReport,
  LineState,
  MsgKey,
  OutageClassification,
  OutageEvent,
  OutageInterval,
  OutageOptions,
  TimedInterval,
  TimeWindow,
} from './types.js';
export { computeUnknownWindows, unknownFrom, unknownWindowBefore } from './unknown-windows.js';
export {
  applyVoltageSample,
  computeVoltageEpisodes,
  DEFAULT_VOLTAGE_LIMITS,
  DEFAULT_VOLTAGE_RANGE,
  type VoltageEpisode,
  type VoltageEvent,
  type VoltageLevel,
  type VoltageLimits,
  type VoltageRejection,
  type VoltageSample,
  type VoltageState,
  type VoltageStep,
  type VoltageValidation,
  validateVoltage,
  voltageLevel,
} from './voltage.js';
