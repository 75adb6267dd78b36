/**
 * Hand-written guards for the ingest contract (packages/queue/src/contracts.ts): they run
 * for every message at tens of thousands per second, and say exactly what is wrong, which
 * goes into the dead-letter record. A batch with any invalid message is refused whole: the
 * gateway built it, so a bad message means a bug or a version mismatch, not a bad device.
 */
import { CONTRACT_VERSION, type IngestBatch } from '@spms/queue';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENTS = new Set([
  'connect',
  'disconnect',
  'connection_lost',
  'keepalive_timeout',
  'session_replaced',
  'activity',
]);
// Epoch ms between 2000 and 2100: anything else is a unit mix-up (seconds, µs).
const MIN_TS = 946_684_800_000;
const MAX_TS = 4_102_444_800_000;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTs = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= MIN_TS && v <= MAX_TS;

export class InvalidBatchError extends Error {
  override name = 'InvalidBatchError';
}

function checkMessage(m: unknown, i: number): string | null {
  const at = `messages[${i}]`;
  if (!isObject(m)) return `${at}: not an object`;
  if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 200) return `${at}.id: not a non-empty string`;
  if (typeof m.deviceId !== 'string' || !UUID.test(m.deviceId)) return `${at}.deviceId: not a UUID`;
  if (!isTs(m.receivedAt)) return `${at}.receivedAt: not an epoch-ms integer`;
  if (m.transport !== 'mqtt' && m.transport !== 'http') return `${at}.transport: not 'mqtt' or 'http'`;
  switch (m.kind) {
    case 'telemetry': {
      if (!Array.isArray(m.entries)) return `${at}.entries: not an array`;
      for (let j = 0; j < m.entries.length; j++) {
        const e: unknown = m.entries[j];
        if (!isObject(e) || !isObject(e.values)) return `${at}.entries[${j}].values: not an object`;
        if (e.ts !== undefined && !isTs(e.ts)) return `${at}.entries[${j}].ts: not an epoch-ms integer`;
      }
      return null;
    }
    case 'attributes':
      return isObject(m.values) ? null : `${at}.values: not an object`;
    case 'connectivity':
      if (typeof m.event !== 'string' || !EVENTS.has(m.event)) return `${at}.event: unknown connectivity event`;
      return m.detail === undefined || isObject(m.detail) ? null : `${at}.detail: not an object`;
    default:
      return `${at}.kind: not telemetry, attributes or connectivity`;
  }
}

/** Returns the batch typed, or throws InvalidBatchError naming the first problem. */
export function validateBatch(data: unknown): IngestBatch {
  if (!isObject(data)) throw new InvalidBatchError('payload: not an object');
  if (data.v !== CONTRACT_VERSION)
    throw new InvalidBatchError(`v: expected ${CONTRACT_VERSION}, got ${String(data.v)}`);
  if (!Array.isArray(data.messages)) throw new InvalidBatchError('messages: not an array');
  for (let i = 0; i < data.messages.length; i++) {
    const problem = checkMessage(data.messages[i], i);
    if (problem) throw new InvalidBatchError(problem);
  }
  return data as unknown as IngestBatch;
}
