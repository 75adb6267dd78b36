/**
 * One definition of a valid device message, used on both sides of the queue:
 * - the gateways (MQTT, HTTP) accept a payload with `acceptTelemetry` / `acceptAttributes`
 *   and refuse that message alone otherwise;
 * - the worker checks every queued message with `validateIngestMessage`, against the
 *   message's own receive time (never its clock), so a message that waited in the queue
 *   for an hour, or is replayed from a dead letter months later, is judged as the gateway
 *   judged it. A property test (accept.test.ts) checks that whatever the gateway accepts,
 *   the worker accepts.
 */
import { CONTRACT_VERSION, type TelemetryEntry, type TelemetryValue } from '@spms/contracts';
import { interpretValues } from './interpret.js';
import { checkTimestamp, checkValues, MAX_ENTRIES_PER_MESSAGE } from './limits.js';
import { decodePayload, parseTelemetry } from './parse.js';

export type TelemetryVerdict = { ok: true; entries: TelemetryEntry[] } | { ok: false; error: string };
export type AttributesVerdict = { ok: true; values: Record<string, TelemetryValue> } | { ok: false; error: string };

/**
 * Everything about a telemetry payload that does not depend on when it arrived: syntax,
 * form, line and voltage values, size bounds. Its verdict can be cached per payload.
 */
export function evaluateTelemetryPayload(payload: Uint8Array | string): TelemetryVerdict {
  const parsed = parseTelemetry(payload);
  if (!parsed.ok) return parsed;
  if (parsed.entries.length > MAX_ENTRIES_PER_MESSAGE)
    return { ok: false, error: `${parsed.entries.length} entries in one message (at most ${MAX_ENTRIES_PER_MESSAGE})` };
  for (let i = 0; i < parsed.entries.length; i++) {
    const values = parsed.entries[i]!.values;
    // Bounds first: interpreting a hostile object would walk all of it.
    const bad = checkValues(values, parsed.entries.length > 1 ? `element ${i} values` : 'values');
    if (bad) return { ok: false, error: bad };
    const { problems } = interpretValues(values);
    // One bad value refuses the whole message: accepting part of it would hide the fault.
    if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  }
  return parsed;
}

/** The entries' device timestamps against the receive time: the first problem, or null. */
export function checkEntryTimestamps(entries: readonly TelemetryEntry[], receivedAt: number): string | null {
  for (let i = 0; i < entries.length; i++) {
    const ts = entries[i]!.ts;
    if (ts === undefined) continue;
    const bad = checkTimestamp(ts, receivedAt, entries.length > 1 ? `element ${i} ts` : 'ts');
    if (bad) return bad;
  }
  return null;
}

/** The gateway's acceptance of a telemetry payload received at `receivedAt` (epoch ms). */
export function acceptTelemetry(payload: Uint8Array | string, receivedAt: number): TelemetryVerdict {
  const verdict = evaluateTelemetryPayload(payload);
  if (!verdict.ok) return verdict;
  const bad = checkEntryTimestamps(verdict.entries, receivedAt);
  return bad ? { ok: false, error: bad } : verdict;
}

/** Client attributes: one JSON object (lenient, like telemetry), within the bounds. */
export function acceptAttributes(payload: Uint8Array | string): AttributesVerdict {
  const decoded = decodePayload(payload);
  if (!decoded.ok) return decoded;
  const doc = decoded.doc;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    return { ok: false, error: 'attributes must be one JSON object' };
  const values = doc as Record<string, TelemetryValue>;
  const bad = checkValues(values, 'attributes');
  return bad ? { ok: false, error: bad } : { ok: true, values };
}

/**
 * A parsed request payload (attribute request, client-side RPC): within the same bounds,
 * so a hostile request cannot cost more than a hostile telemetry message.
 */
export function checkRequestBody(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null) return null;
  return checkValues(Array.isArray(doc) ? { request: doc } : (doc as Record<string, TelemetryValue>), 'request');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const EVENTS = new Set([
  'connect',
  'disconnect',
  'connection_lost',
  'keepalive_timeout',
  'session_replaced',
  'activity',
]);
// receivedAt is the gateway's clock: only a unit mix-up or a bug puts it outside 2000..2100.
const MAX_RECEIVED_AT = Date.UTC(2100, 0, 1);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The worker's check of one queued message (contract: packages/queue/src/contracts.ts) with
 * the gateway's bounds, timestamps judged against the message's `receivedAt`. Returns the
 * problem (what is wrong, where) or null.
 */
export function validateIngestMessage(m: unknown): string | null {
  if (!isObject(m)) return 'message: not an object';
  if (typeof m.id !== 'string' || m.id.length === 0 || m.id.length > 200) return 'id: not a non-empty string';
  if (typeof m.deviceId !== 'string' || !UUID.test(m.deviceId)) return 'deviceId: not a UUID';
  const receivedAt = m.receivedAt;
  if (typeof receivedAt !== 'number' || !Number.isSafeInteger(receivedAt)) return 'receivedAt: not an epoch-ms integer';
  if (receivedAt < Date.UTC(2000, 0, 1) || receivedAt > MAX_RECEIVED_AT)
    return `receivedAt: ${receivedAt} is not an epoch-ms time between 2000 and 2100`;
  if (m.transport !== 'mqtt' && m.transport !== 'http') return "transport: not 'mqtt' or 'http'";
  switch (m.kind) {
    case 'telemetry': {
      if (!Array.isArray(m.entries)) return 'entries: not an array';
      if (m.entries.length > MAX_ENTRIES_PER_MESSAGE)
        return `entries: ${m.entries.length} entries (at most ${MAX_ENTRIES_PER_MESSAGE})`;
      for (let j = 0; j < m.entries.length; j++) {
        const e: unknown = m.entries[j];
        if (!isObject(e) || !isObject(e.values)) return `entries[${j}].values: not an object`;
        if (e.ts !== undefined) {
          if (typeof e.ts !== 'number') return `entries[${j}].ts: not a number`;
          const bad = checkTimestamp(e.ts, receivedAt, `entries[${j}].ts`);
          if (bad) return bad;
        }
        const bad = checkValues(e.values as Record<string, TelemetryValue>, `entries[${j}].values`);
        if (bad) return bad;
      }
      return null;
    }
    case 'attributes':
      if (!isObject(m.values)) return 'values: not an object';
      return checkValues(m.values as Record<string, TelemetryValue>, 'values');
    case 'connectivity':
      if (typeof m.event !== 'string' || !EVENTS.has(m.event)) return 'event: unknown connectivity event';
      if (m.detail === undefined) return null;
      if (!isObject(m.detail)) return 'detail: not an object';
      return checkValues(m.detail as Record<string, TelemetryValue>, 'detail');
    default:
      return 'kind: not telemetry, attributes or connectivity';
  }
}

/** The ingest job's envelope (not a message): a wrong version is a whole-job problem. */
export function checkBatchEnvelope(data: unknown): string | null {
  if (!isObject(data)) return 'payload: not an object';
  if (data.v !== CONTRACT_VERSION) return `v: expected ${CONTRACT_VERSION}, got ${String(data.v)}`;
  if (!Array.isArray(data.messages)) return 'messages: not an array';
  return null;
}
