/**
 * Parsed-telemetry cache for small payloads. The fleet sends few distinct payloads
 * (`{'3':'false'}`: 16 line messages; `{'V':229.4}`: a few thousand voltages), and its
 * single-quoted form always takes the slow lenient parser (JSON.parse throws first), which
 * was the largest single cost per message in the MQTT broker's profile. Cached results are
 * shared between messages; nothing downstream mutates them (they are serialized into the
 * queue as they are).
 */
import { checkEntryTimestamps, evaluateTelemetryPayload, type TelemetryVerdict } from './validate-message.js';

const MAX_KEY_BYTES = 64;
const MAX_ENTRIES = 10_000;

/**
 * The gateway's acceptance (`acceptTelemetry`) with the time-independent part cached;
 * device timestamps are checked against each message's receive time.
 */
export function createTelemetryEvaluator(): (payload: Uint8Array | string, receivedAt: number) => TelemetryVerdict {
  const cache = new Map<string, TelemetryVerdict>();
  const withTime = (verdict: TelemetryVerdict, receivedAt: number): TelemetryVerdict => {
    if (!verdict.ok) return verdict;
    const bad = checkEntryTimestamps(verdict.entries, receivedAt);
    return bad ? { ok: false, error: bad } : verdict;
  };
  return (payload, receivedAt) => {
    // Text payloads are not cached: their key could equal the latin1 key of other bytes.
    if (typeof payload === 'string' || payload.length > MAX_KEY_BYTES)
      return withTime(evaluateTelemetryPayload(payload), receivedAt);
    // latin1 maps bytes 1:1, so invalid UTF-8 still gets a distinct key (and its refusal).
    const key = (
      Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
    ).toString('latin1');
    let verdict = cache.get(key);
    if (verdict === undefined) {
      verdict = evaluateTelemetryPayload(payload);
      if (cache.size >= MAX_ENTRIES) cache.clear(); // crude, but bounded and rare
      cache.set(key, verdict);
    }
    return withTime(verdict, receivedAt);
  };
}
