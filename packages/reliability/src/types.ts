/** Instants are epoch milliseconds (UTC); intervals are half-open [from, to). */

/** Classification from the outage engine; `pending` = still open and not yet past the momentary threshold. */
export type OutageClass = 'momentary' | 'sustained' | 'pending';

/** One monitored AC line: IEEE 1366's "customer" (service point) in SPMS. */
export interface ServicePoint {
  deviceId: string;
  line: number;
  region?: string | null;
  customer?: string | null;
  /** First instant the line counts as in service (inclusive); absent = always. */
  inServiceFrom?: number | null;
  /** Instant the line left service (exclusive); absent = still in service. */
  inServiceTo?: number | null;
}

/**
 * One line-outage: the engine's OutageInterval (startedAt, endedAt, unknownMs) plus its
 * device, class and planned flag. Structural, so the engine's rows can be passed as they are.
 */
export interface ReliabilityOutage {
  deviceId: string;
  line: number;
  /** Informational; the service point's region is authoritative for grouping. */
  region?: string | null;
  startedAt: number;
  /** null = still open. */
  endedAt: number | null;
  /** Offline time inside the outage (engine figure), excluded from its duration. */
  unknownMs: number;
  class: OutageClass;
  planned?: boolean;
}

/** A window in which a device was offline: its lines' state is unknown. `to` null = still offline. */
export interface UnknownWindow {
  deviceId: string;
  from: number;
  to: number | null;
}

export interface Period {
  from: number;
  to: number;
}

export interface ReliabilityInput {
  servicePoints: readonly ServicePoint[];
  outages: readonly ReliabilityOutage[];
  unknown?: readonly UnknownWindow[];
}

/** Counts and in-period known durations of one class of outage (sustained or momentary). */
export interface DurationStats {
  /** Outages that began in the period (frequency; includes open ones). */
  count: number;
  /** Of `count`, still open (no duration yet). */
  openCount: number;
  /** Outages that began before the period and were still open at its start (duration only). */
  carriedIn: number;
  /** Closed outages with known time inside the period (the denominator of the mean). */
  withDuration: number;
  /** Σ known duration clipped to the period (offline time excluded), ms. */
  totalDurationMs: number;
  meanDurationMs: number | null;
  longestMs: number | null;
}

/** IEEE 1366 indices with the monitored line as the customer. */
export interface ReliabilityIndices {
  /** Σ N_i: sustained line-outages that began in the period. */
  customerInterruptions: number;
  /** Σ r_i·N_i in minutes (known, in-period time of closed sustained outages). */
  customerMinutes: number;
  saifi: number;
  saidiMinutes: number;
  /** SAIDI / SAIFI; null when SAIFI = 0. */
  caidiMinutes: number | null;
  maifi: number;
  /** Fraction in [0, 1]; null when the group has no known line-time in the period. */
  asai: number | null;
}

/** Indices and statistics of one subset of outages (main, planned or major-event). */
export interface OutageSet {
  indices: ReliabilityIndices;
  sustained: DurationStats;
  momentary: DurationStats;
  /** Open outages that began in the period and are not yet classified. */
  pending: number;
}

export type GroupKind = 'fleet' | 'region' | 'customer' | 'device';

export interface GroupReliability {
  kind: GroupKind;
  /** 'fleet', the region, the customer or the deviceId. */
  key: string;
  /** N_T: lines in service at some time in the period. */
  lines: number;
  /** Σ over lines of in-service time in the period, hours. */
  lineHours: number;
  /** Σ over lines of offline (unknown) time within their in-service time, hours. */
  unknownLineHours: number;
  /** lineHours − unknownLineHours: ASAI's denominator. */
  knownLineHours: number;
  /** Unplanned outages not on a major event day: the headline indices. */
  main: OutageSet;
  planned: OutageSet;
  /** Unplanned outages that began on a major event day; null when no MED list was given. */
  majorEvents: OutageSet | null;
}

export interface ReliabilityReport {
  period: Period;
  periodHours: number;
  timeZone: string;
  fleet: GroupReliability;
  regions: GroupReliability[];
  customers: GroupReliability[];
  devices: GroupReliability[];
  /** Outages whose (deviceId, line) is no service point in service during the period (not counted anywhere). */
  ignoredOutages: number;
}
