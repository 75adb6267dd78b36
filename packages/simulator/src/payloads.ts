/**
 * Byte-exact payloads. The MQTT firmware writes single-quoted pseudo-JSON (`{'3':'false'}`,
 * `{'V':219.5}`), the HTTP firmware strict JSON with booleans; both print the voltage with
 * exactly one decimal (`0.0`, never `0`), which `JSON.stringify` would not do.
 */
export const TELEMETRY_TOPIC = 'v1/devices/me/telemetry';
export const LINE_NUMBERS = [1, 2, 3, 4, 5, 6, 7, 8] as const;

/** Line states indexed 0..7 for lines 1..8; `true` = power present. */
export type LineStates = readonly boolean[];

/** One decimal, negative clamped to 0 as the firmware does (no upper clamp). */
export function formatVolts(volts: number): string {
  return Math.max(volts, 0).toFixed(1);
}

export function mqttLinePayload(line: number, powered: boolean): string {
  return `{'${line}':'${powered}'}`;
}

export function mqttVoltagePayload(volts: number): string {
  return `{'V':${formatVolts(volts)}}`;
}

export function httpSnapshotBody(volts: number, lines: LineStates): string {
  let out = `{"V":${formatVolts(volts)}`;
  for (const n of LINE_NUMBERS) out += `,"${n}":${lines[n - 1] === true}`;
  return `${out}}`;
}

/** One reading of a ThingsBoard-style device: any subset of lines and/or the voltage. */
export interface TimedValues {
  ts: number;
  volts?: number;
  lines?: ReadonlyArray<readonly [line: number, powered: boolean]>;
}

function valuesJson(v: TimedValues): string {
  const parts: string[] = [];
  if (v.volts !== undefined) parts.push(`"V":${formatVolts(v.volts)}`);
  for (const [line, powered] of v.lines ?? []) parts.push(`"${line}":${powered}`);
  return `{${parts.join(',')}}`;
}

/** `{"ts":…,"values":{…}}` — ThingsBoard's timestamped form. */
export function timestampedPayload(v: TimedValues): string {
  return `{"ts":${Math.round(v.ts)},"values":${valuesJson(v)}}`;
}

/** `[{"ts":…,"values":{…}},…]` — the edge-buffer replay form. */
export function timestampedArrayPayload(values: readonly TimedValues[]): string {
  return `[${values.map(timestampedPayload).join(',')}]`;
}

/** ThingsBoard rejects MQTT payloads over 64 KiB: split a replay into arrays under `maxBytes`. */
export function chunkTimestamped(values: readonly TimedValues[], maxBytes = 60_000): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const v of values) {
    const item = timestampedPayload(v);
    if (current.length > 0 && size + item.length + 1 > maxBytes) {
      chunks.push(`[${current.join(',')}]`);
      current = [];
      size = 2;
    }
    current.push(item);
    size += item.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(',')}]`);
  return chunks;
}
