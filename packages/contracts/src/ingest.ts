/**
 * The contract between the gateway (producer) and the worker (consumer).
 *
 * The gateway puts every accepted device message into the `ingest` queue before it
 * acknowledges the device (QoS 1 PUBACK, HTTP 200). To keep Redis round-trips per message
 * low, messages are group-committed: one BullMQ job carries a batch of messages
 * (BullMQ's batch *processing* is Pro-only, so the batch lives in the payload).
 * The worker must treat messages idempotently by `id`: a job can be delivered twice.
 */

export const INGEST_QUEUE = 'ingest';
export const INGEST_JOB = 'batch';
export const CONTRACT_VERSION = 1;

/** A telemetry value after lenient parsing: what ThingsBoard would store. */
export type TelemetryValue = string | number | boolean | null | TelemetryValue[] | { [k: string]: TelemetryValue };

export interface TelemetryEntry {
  /** Device-supplied timestamp (epoch ms), when the payload had `{"ts","values"}`. */
  ts?: number;
  values: Record<string, TelemetryValue>;
}

export type ConnectivityEvent =
  | 'connect'
  | 'disconnect' // clean DISCONNECT from the device
  | 'connection_lost' // socket closed/errored without DISCONNECT
  | 'keepalive_timeout'
  | 'session_replaced' // a newer connection for the same device took over
  | 'activity'; // PINGREQ or other non-telemetry activity (coalesced by the gateway)

interface MessageBase {
  /** Unique id assigned by the gateway; the idempotency key downstream. */
  id: string;
  deviceId: string;
  /** Gateway receive time, epoch ms. Event time when the device sent no `ts`. */
  receivedAt: number;
  transport: 'mqtt' | 'http';
}

export interface TelemetryMessage extends MessageBase {
  kind: 'telemetry';
  entries: TelemetryEntry[];
}

export interface AttributesMessage extends MessageBase {
  kind: 'attributes';
  values: Record<string, TelemetryValue>;
}

export interface ConnectivityMessage extends MessageBase {
  kind: 'connectivity';
  event: ConnectivityEvent;
  detail?: Record<string, string | number | boolean | null>;
}

export type IngestMessage = TelemetryMessage | AttributesMessage | ConnectivityMessage;

export interface IngestBatch {
  v: typeof CONTRACT_VERSION;
  messages: IngestMessage[];
}
