/**
 * The bounds of a valid device message, as named constants (docs/device-messages.md lists
 * them for operators). The gateway refuses what falls outside, for that message alone; the
 * worker checks the same bounds, so what the gateway acknowledged the worker accepts.
 *
 * Why each bound exists:
 * - timestamps: a `ts` in seconds lands in 1970 and a far-future `ts` would win "newest
 *   timestamp wins" forever; history up to now is fine (imports, replayed buffers);
 * - depth: deep nesting parses (JSON5 is iterative) but makes `JSON.stringify` and
 *   PostgreSQL's jsonb overflow their stacks further down the line;
 * - keys, key length, string size: bound what one message can make us store;
 * - NUL and lone surrogates: PostgreSQL's jsonb refuses them, which would fail a whole
 *   transaction of other devices' messages in the worker;
 * - numbers: finite only (JSON5 reads `Infinity` and `NaN`, which JSON cannot carry).
 */
import type { TelemetryValue } from '@spms/contracts';

/** 2000-01-01T00:00:00Z: no device clock reading before this is a real time. */
export const MIN_TS_MS = Date.UTC(2000, 0, 1);
/** How far ahead of the gateway's receive time a device's clock may run. */
export const MAX_FUTURE_SKEW_MS = 10 * 60 * 1000;
/** Nesting of objects/arrays inside one entry's values (`{"a":{"b":1}}` is depth 2). */
export const MAX_VALUE_DEPTH = 16;
/** Keys in any one object (an entry's values or a nested object). */
export const MAX_KEYS_PER_OBJECT = 500;
/** Entries (`{"ts","values"}` items) in one telemetry message. */
export const MAX_ENTRIES_PER_MESSAGE = 2000;
/** Key length in characters (ThingsBoard's key dictionary holds 255). */
export const MAX_KEY_LENGTH = 255;
/** String value length in characters. */
export const MAX_STRING_LENGTH = 8192;
/** Elements in any one array value. */
export const MAX_ARRAY_LENGTH = 1000;

const DAY_MS = 86_400_000;

function describeKey(key: string): string {
  return key.length > 40 ? `${JSON.stringify(key.slice(0, 37))}...` : JSON.stringify(key);
}

// ES2024's String.prototype.isWellFormed (Node ≥ 20); the project's lib is older.
type WellFormed = string & { isWellFormed(): boolean };

/** A string PostgreSQL's jsonb stores: no NUL, no lone UTF-16 surrogate. */
function checkString(s: string, what: string): string | null {
  if (s.includes('\u0000')) return `${what} contains a NUL character (\\u0000)`;
  if (!(s as WellFormed).isWellFormed()) return `${what} contains a lone UTF-16 surrogate`;
  return null;
}

/**
 * Checks a values object (one entry's values, or attributes) against the bounds; returns
 * the first problem with what to fix, or null. Recursion is bounded by MAX_VALUE_DEPTH.
 */
export function checkValues(values: Record<string, TelemetryValue>, where = 'values'): string | null {
  return checkObject(values, where, 1);
}

function checkObject(obj: Record<string, unknown>, where: string, depth: number): string | null {
  let count = 0;
  for (const key in obj) {
    if (!Object.hasOwn(obj, key)) continue;
    if (++count > MAX_KEYS_PER_OBJECT) return `${where}: more than ${MAX_KEYS_PER_OBJECT} keys in one object`;
    if (key.length > MAX_KEY_LENGTH)
      return `${where}: key ${describeKey(key)} is ${key.length} characters long (at most ${MAX_KEY_LENGTH})`;
    const bad = checkString(key, `${where}: a key`);
    if (bad) return bad;
    const problem = checkValue(obj[key], `${where}.${describeKey(key)}`, depth);
    if (problem) return problem;
  }
  return null;
}

function checkValue(v: unknown, where: string, depth: number): string | null {
  switch (typeof v) {
    case 'string':
      if (v.length > MAX_STRING_LENGTH)
        return `${where}: string of ${v.length} characters (at most ${MAX_STRING_LENGTH})`;
      return checkString(v, where);
    case 'number':
      return Number.isFinite(v) ? null : `${where}: ${String(v)} is not a finite number`;
    case 'boolean':
      return null;
    case 'object': {
      if (v === null) return null;
      if (depth >= MAX_VALUE_DEPTH) return `${where}: nested deeper than ${MAX_VALUE_DEPTH} levels`;
      if (Array.isArray(v)) {
        if (v.length > MAX_ARRAY_LENGTH) return `${where}: array of ${v.length} elements (at most ${MAX_ARRAY_LENGTH})`;
        for (let i = 0; i < v.length; i++) {
          const problem = checkValue(v[i], `${where}[${i}]`, depth + 1);
          if (problem) return problem;
        }
        return null;
      }
      return checkObject(v as Record<string, unknown>, where, depth + 1);
    }
    default:
      return `${where}: ${typeof v} is not a JSON value`;
  }
}

/**
 * Checks a device timestamp (epoch ms) against the gateway's receive time; the refusal
 * says what the number looks like when it is in the wrong unit.
 */
export function checkTimestamp(ts: number, receivedAt: number, where = 'ts'): string | null {
  const latest = receivedAt + MAX_FUTURE_SKEW_MS;
  if (!Number.isSafeInteger(ts)) return `${where} ${ts} is not an integer number of milliseconds`;
  if (ts >= MIN_TS_MS && ts <= latest) return null;
  const inRange = (ms: number) => ms >= MIN_TS_MS && ms <= latest;
  let hint: string;
  if (ts > 0 && inRange(ts * 1000)) hint = 'looks like seconds: send milliseconds';
  else if (inRange(Math.floor(ts / 1000))) hint = 'looks like microseconds: send milliseconds';
  else if (inRange(Math.floor(ts / 1_000_000))) hint = 'looks like nanoseconds: send milliseconds';
  else if (ts > latest) {
    const ahead = ts - receivedAt;
    const amount = ahead >= DAY_MS ? `${Math.round(ahead / DAY_MS)} days` : `${Math.round(ahead / 60_000)} minutes`;
    hint = `is ${amount} in the future (device clock?): at most ${MAX_FUTURE_SKEW_MS / 60_000} minutes ahead of receive time`;
  } else hint = 'is before 2000-01-01: send Unix time in milliseconds';
  return `${where} ${ts} ${hint}`;
}
