export { computeIndices } from './accumulate.js';
export { type DailySaidi, type DailySaidiOptions, dailySaidi } from './daily.js';
export { knownOutageMs, mergeWindows, overlapMs, type Span } from './intervals.js';
export {
  DEFAULT_TIME_ZONE,
  dayIndex,
  type LocalDay,
  localDay,
  localDayStart,
  localDays,
  nextDay,
  timeZoneOffsetMs,
} from './local-days.js';
export {
  findMajorEventDays,
  type MajorEventDaysResult,
  type MajorEventThreshold,
  majorEventDays,
  majorEventThreshold,
  medHistory,
} from './major-events.js';
export { computeReliability, inServiceSpan, lineKey, type ReliabilityOptions } from './reliability.js';
export { partsOf, type ZoneFormatOptions, zonedFormat } from './time-zone.js';
export type * from './types.js';
export { asaiPercent, MS_PER_HOUR, MS_PER_MINUTE, msToMinutes } from './units.js';
