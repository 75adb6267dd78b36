/**
 * The ingest contract (gateway → worker), the domain events, queue and channel names and
 * job payloads moved to @spms/contracts (no dependencies: the pure packages import it
 * without loading BullMQ); re-exported here for the code that imports them from the queue.
 */
export * from '@spms/contracts';

/**
 * Heartbeat of each process that sends texts (the alerts processors): a Redis key with the
 * provider it uses (`{"provider":"twilio"|"console","at":<epoch ms>}`), renewed every third
 * of its TTL and deleted on a clean stop. The API reads them for the dashboard ("texts are
 * only being logged", "nothing sends texts").
 */
export const SMS_SENDER_TTL_MS = 90_000;
export function smsSenderKey(prefix: string, sender: string): string {
  return `${prefix}:sms:sender:${sender}`;
}
export function smsSenderPattern(prefix: string): string {
  return `${prefix}:sms:sender:*`;
}
