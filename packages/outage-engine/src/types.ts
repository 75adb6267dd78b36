/**
 * Shared shapes of the outage engine. All times are epoch milliseconds. Nothing here does
 * I/O or reads the clock: callers pass `now` where the answer depends on it.
 */

/** Total order of reports/samples: (ts, msgId), msgId compared by UTF-16 code units. */
export interface MsgKey {
  ts: number;
  msgId: string;
}

/** One observed state of one AC line. `ts` = device ts if sent, else gateway receivedAt. */
export interface LineReport extends MsgKey {
  line: number;
  powered: boolean;
}

/** Half-open [from, to); `to: null` = still open (device still offline). */
export interface TimeWindow {
  from: number;
  to: number | null;
}

export type OutageClassification = 'momentary' | 'sustained';

/**
 * What outages and voltage episodes share: a start and an end (null while open), each with
 * the message that marks it and, when it happened while the device was offline, the window
 * it lies in; the unknown time inside; the counted duration.
 */
export interface TimedInterval {
  /** Counted start = ts of the first report seen unpowered (the opening report). */
  startedAt: number;
  /** msgId of the opening report: (line, startedAt, startMsgId) is the outage's natural key. */
  startMsgId: string;
  /** Set when it began while the device was offline: {last seen powered, first seen unpowered}. */
  startWindow: TimeWindow | null;
  /** Counted end; null = open. With endWindow set this is "last seen unpowered". */
  endedAt: number | null;
  /** msgId of the closing (powered) report; its ts is endWindow?.to ?? endedAt. */
  endMsgId: string | null;
  /** Set when it ended while the device was offline: {last seen unpowered, first seen powered}. */
  endWindow: TimeWindow | null;
  /** Unknown (device offline) time inside [startedAt, endedAt), excluded from the duration. */
  unknownMs: number;
  /** Counted duration = endedAt − startedAt − unknownMs; null while open. */
  durationMs: number | null;
}

export interface OutageInterval extends TimedInterval {
  line: number;
  /** Momentary (< threshold) or sustained; null while open (see classifyOutage for live). */
  classification: OutageClassification | null;
}

/** Everything the incremental step needs about one line: O(1) size. */
export interface LineState extends MsgKey {
  line: number;
  powered: boolean;
  /** The outage currently open on this line, if any. */
  open: OutageInterval | null;
}

export interface OutageOptions {
  /** Outages shorter than this are momentary. Default 300 000 (5 min, IEEE 1366). */
  momentaryThresholdMs?: number;
}

/** Domain events about outages. Consumers treat (line, startedAt, startMsgId) of `previous`
 *  as the identity of the stored row to update. */
export type OutageEvent =
  /** A new outage. `outage` is as known now (already closed when history was filled in late). */
  | { type: 'outage.opened'; outage: OutageInterval }
  /** An open outage closed. `previous` = stored version (null if it was never stored open). */
  | { type: 'outage.closed'; outage: OutageInterval; previous: OutageInterval | null }
  /** Late data or a window changed a stored outage (start, end, windows, unknownMs, reopen). */
  | { type: 'outage.changed'; outage: OutageInterval; previous: OutageInterval }
  /** Late data showed a stored outage did not happen as stored (absorbed into another). */
  | { type: 'outage.removed'; previous: OutageInterval };
