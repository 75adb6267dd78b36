/**
 * Telemetry payloads as ThingsBoard accepts them (docs/thingsboard-compatibility.md):
 * a plain object, an array of objects, `{"ts","values"}`, or an array mixing both; any
 * object with both `ts` and `values` is timestamped.
 *
 * Parsing is lenient like ThingsBoard's (Gson lenient mode), because the deployed firmware
 * sends `{'3':'false'}`: JSON5 accepts single-quoted strings, unquoted names, trailing
 * commas, comments and hex numbers — the non-strict forms devices produce in practice.
 * (Gson also takes `=`/`=>` and `;` as separators and unquoted string values; no firmware
 * we know sends those, and JSON5 refuses them with a clear position.)
 */
import type { TelemetryEntry, TelemetryValue } from '@spms/contracts';
import JSON5 from 'json5';

export type ParseResult = { ok: true; entries: TelemetryEntry[] } | { ok: false; error: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict JSON first (fast path for most devices), then lenient. A payload with a single
 * quote goes straight to JSON5: the MQTT firmware's `{'3':'false'}` would only make
 * JSON.parse throw first, and exceptions are expensive on the hot path.
 */
export function parseLenientJson(text: string): unknown {
  if (text.includes("'")) return JSON5.parse(text);
  try {
    return JSON.parse(text);
  } catch {
    return JSON5.parse(text);
  }
}

function isObject(v: unknown): v is Record<string, TelemetryValue> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toEntry(item: unknown, index: number | null): TelemetryEntry | string {
  const where = index === null ? 'payload' : `element ${index}`;
  if (!isObject(item)) return `${where} must be a JSON object`;
  if ('ts' in item && 'values' in item) {
    const { ts, values } = item;
    const n = typeof ts === 'string' && /^\d+$/.test(ts) ? Number(ts) : ts;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0)
      return `${where}: "ts" must be a Unix time in milliseconds`;
    if (!isObject(values)) return `${where}: "values" must be an object`;
    return { ts: n, values };
  }
  return { values: item };
}

/** A device payload as a JSON document: UTF-8, not empty, JSON at least leniently. */
export function decodePayload(payload: Uint8Array | string): { ok: true; doc: unknown } | { ok: false; error: string } {
  let text: string;
  try {
    text = typeof payload === 'string' ? payload : utf8.decode(payload);
  } catch {
    return { ok: false, error: 'payload is not valid UTF-8' };
  }
  if (text.trim() === '') return { ok: false, error: 'payload is empty' };
  try {
    return { ok: true, doc: parseLenientJson(text) };
  } catch (err) {
    const detail = err instanceof Error ? err.message.replace(/^JSON5: /, '') : 'unparseable';
    return { ok: false, error: `payload is not JSON (even leniently): ${detail}` };
  }
}

export function parseTelemetry(payload: Uint8Array | string): ParseResult {
  const decoded = decodePayload(payload);
  if (!decoded.ok) return decoded;
  const doc = decoded.doc;
  const items = Array.isArray(doc) ? doc : [doc];
  if (items.length === 0) return { ok: false, error: 'payload is an empty array' };
  const entries: TelemetryEntry[] = [];
  for (let i = 0; i < items.length; i++) {
    const e = toEntry(items[i], Array.isArray(doc) ? i : null);
    if (typeof e === 'string') return { ok: false, error: e };
    entries.push(e);
  }
  return { ok: true, entries };
}
