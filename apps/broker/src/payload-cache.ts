/**
 * Parsed-telemetry cache for small payloads. The fleet sends few distinct payloads
 * (`{'3':'false'}`: 16 line messages; `{'V':229.4}`: a few thousand voltages), and its
 * single-quoted form always takes the slow lenient parser (JSON.parse throws first), which
 * was the largest single cost per message in the gateway's profile. Cached results are
 * shared between messages; nothing downstream mutates them (they are serialized into the
 * queue as they are).
 */
import type { TelemetryEntry } from '@spms/queue';
import { interpretValues, parseTelemetry } from '@spms/telemetry';

export type TelemetryVerdict = { ok: true; entries: TelemetryEntry[] } | { ok: false; error: string };

const MAX_KEY_BYTES = 64;
const MAX_ENTRIES = 10_000;

function evaluate(payload: Uint8Array): TelemetryVerdict {
  const parsed = parseTelemetry(payload);
  if (!parsed.ok) return parsed;
  for (const entry of parsed.entries) {
    const { problems } = interpretValues(entry.values);
    // One bad value refuses the whole message: accepting part of it would hide the fault.
    if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  }
  return parsed;
}

export function createTelemetryEvaluator(): (payload: Buffer) => TelemetryVerdict {
  const cache = new Map<string, TelemetryVerdict>();
  return (payload) => {
    if (payload.length > MAX_KEY_BYTES) return evaluate(payload);
    // latin1 maps bytes 1:1, so invalid UTF-8 still gets a distinct key (and its refusal).
    const key = payload.toString('latin1');
    let verdict = cache.get(key);
    if (verdict === undefined) {
      verdict = evaluate(payload);
      if (cache.size >= MAX_ENTRIES) cache.clear(); // crude, but bounded and rare
      cache.set(key, verdict);
    }
    return verdict;
  };
}
