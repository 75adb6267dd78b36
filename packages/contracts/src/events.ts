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

export interface DomainEvent {
  /** Deterministic: derived from the change itself, so re-processing yields the same id. */
  id: string;
  type: DomainEventType;
  deviceId: string;
  /** Epoch ms of the change in the physical world (not of its processing). */
  occurredAt: number;
  payload: Record<string, unknown>;
  /** Commit-order number, set when stored (the worker's outbox `insertEventsAndCommit`);
   *  live views order and de-duplicate by it. */
  seq?: number;
}

export const DOMAIN_EVENTS_QUEUE = 'domain-events';
