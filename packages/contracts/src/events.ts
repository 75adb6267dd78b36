/**
 * Domain events: what happened, once per real change (deterministic ids make repeats
 * no-ops). The worker stores them with the change (outbox), then publishes each to the
 * `domain-events` queue (the alerts processes consume it, job name = event type) and to
 * the `${REDIS_PREFIX}:events` channel (the API's live views).
 */
export type DomainEventType =
  | 'outage.opened'
  | 'outage.closed'
  | 'outage.changed'
  | 'outage.removed'
  /** An open outage passed the momentary threshold (profile/device momentary_threshold_sec). */
  | 'outage.sustained'
  | 'device.offline'
  | 'device.online'
  | 'device.connection_lost'
  | 'device.reconnected'
  | 'voltage.episode_opened'
  | 'voltage.episode_closed'
  | 'voltage.episode_changed'
  | 'voltage.episode_removed';

/** Last seen one way, first seen the other, when a change happened while the device was offline. */
export interface EventTimeWindow {
  from: number;
  to: number | null;
}

/** What outages and voltage episodes share; times epoch ms. */
interface IntervalRecord {
  startedAt: number;
  /** Message id of the opening report: the record's natural key (with an outage's line). */
  startMsgId: string;
  startWindow: EventTimeWindow | null;
  /** null while open. */
  endedAt: number | null;
  endMsgId: string | null;
  endWindow: EventTimeWindow | null;
  /** Time the device was offline inside the record, excluded from its duration. */
  unknownMs: number;
  durationMs: number | null;
}

/** An outage as the worker stores it (the outage engine's OutageInterval). */
export interface OutageRecord extends IntervalRecord {
  line: number;
  classification: 'momentary' | 'sustained' | null;
}

/** A voltage episode as the worker stores it (the outage engine's VoltageEpisode). */
export interface VoltageEpisodeRecord extends IntervalRecord {
  kind: 'under' | 'over';
}

export interface OutageEventPayload {
  outage: OutageRecord;
  /** The line is the device's utility (CEB) feed. */
  utilityFeed: boolean;
  /** The line's label on the device, if it has one. */
  label: string | null;
  /** The outage as it was before this change (closed, changed). */
  previous?: OutageRecord;
  /** Every monitored line of the site lost power together. */
  wholeSite?: boolean;
}

/** The payload of each event type. */
export interface DomainEventPayloads {
  'outage.opened': OutageEventPayload;
  'outage.closed': OutageEventPayload;
  'outage.changed': OutageEventPayload;
  'outage.removed': { outage: OutageRecord };
  'outage.sustained': { line: number; startedAt: number; startMsgId: string };
  /** No activity since lastActivity; declared at inactiveAt, noticed at detectedAt. */
  'device.offline': { lastActivity: number; inactiveAt: number; detectedAt: number };
  /** Active again at `at`; spurious: the offline period came from a stale deadline and is void. */
  'device.online': { offlineSince: number; at: number; spurious: boolean };
  'device.connection_lost': { at: number };
  'device.reconnected': { at: number };
  'voltage.episode_opened': { episode: VoltageEpisodeRecord };
  'voltage.episode_closed': { episode: VoltageEpisodeRecord };
  'voltage.episode_changed': { episode: VoltageEpisodeRecord };
  'voltage.episode_removed': { episode: VoltageEpisodeRecord };
}

interface DomainEventOf<T extends DomainEventType> {
  /** Deterministic: derived from the change itself, so re-processing yields the same id. */
  id: string;
  type: T;
  deviceId: string;
  /** Epoch ms of the change in the physical world (not of its processing). */
  occurredAt: number;
  payload: DomainEventPayloads[T];
  /** Commit-order number, set when stored (the worker's outbox `insertEventsAndCommit`);
   *  live views order and de-duplicate by it. */
  seq?: number;
}

/** One domain event; narrowing on `type` gives its payload's type. */
export type DomainEvent<T extends DomainEventType = DomainEventType> = { [K in T]: DomainEventOf<K> }[T];

export const DOMAIN_EVENTS_QUEUE = 'domain-events';

/**
 * The event types the alerts processes act on: only these become jobs of the durable
 * `domain-events` queue (every event is still stored in `domain_events` and sent on the live
 * channel). The others (a connection lost or back, a record merely changed, an outage passing
 * the momentary threshold) raise and clear nothing, and as jobs they cost a grid-restore storm
 * a queue round trip per device for no one: every device's reconnection is one.
 */
export const QUEUED_EVENT_TYPES = [
  'outage.opened',
  'outage.closed',
  'outage.removed',
  'device.offline',
  'device.online',
  'voltage.episode_opened',
  'voltage.episode_closed',
  'voltage.episode_removed',
] as const satisfies readonly DomainEventType[];
export type QueuedEventType = (typeof QUEUED_EVENT_TYPES)[number];
const QUEUED = new Set<DomainEventType>(QUEUED_EVENT_TYPES);
/** Whether an event goes to the durable `domain-events` queue (QUEUED_EVENT_TYPES). */
export const isQueuedEvent = (e: DomainEvent): e is DomainEvent<QueuedEventType> => QUEUED.has(e.type);
