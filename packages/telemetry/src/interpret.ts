/**
 * What SPMS reads out of a telemetry entry's values:
 * - keys "1".."8" are line states; `'true'/'false'`, `true/false`, `1/0` (also as strings),
 *   true = power present (docs/field-protocol.md). ThingsBoard would keep `"true"` as a string; we must
 *   still read it as a state.
 * - "V" is mains voltage, a number or a numeric string.
 * - any other key is kept as-is (ThingsBoard stores arbitrary telemetry).
 * Values that claim to be a line or a voltage but are not are reported as problems, with a
 * message for the operator; deciding whether a problem refuses the message is the caller's.
 */
import type { TelemetryValue } from '@spms/contracts';

export const LINE_COUNT = 8;

export interface LineReport {
  line: number;
  powered: boolean;
}

export interface Interpretation {
  lines: LineReport[];
  voltage: number | null;
  other: Record<string, TelemetryValue>;
  problems: string[];
}

const TRUE = new Set<TelemetryValue>([true, 1, 'true', '1', 'TRUE', 'True']);
const FALSE = new Set<TelemetryValue>([false, 0, 'false', '0', 'FALSE', 'False']);
const NUMERIC = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$/;

function show(v: TelemetryValue): string {
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

export function interpretValues(values: Record<string, TelemetryValue>): Interpretation {
  const out: Interpretation = { lines: [], voltage: null, other: {}, problems: [] };
  for (const [key, value] of Object.entries(values)) {
    if (/^\d+$/.test(key)) {
      const line = Number(key);
      if (line < 1 || line > LINE_COUNT) {
        out.problems.push(`line ${key}: devices have lines 1..${LINE_COUNT}`);
      } else if (TRUE.has(value)) {
        out.lines.push({ line, powered: true });
      } else if (FALSE.has(value)) {
        out.lines.push({ line, powered: false });
      } else {
        out.problems.push(`line ${key}: ${show(value)} is not a line state (use true/false or 1/0)`);
      }
    } else if (key === 'V') {
      const n =
        typeof value === 'number' ? value : typeof value === 'string' && NUMERIC.test(value) ? Number(value) : NaN;
      if (Number.isFinite(n)) out.voltage = n;
      else out.problems.push(`V: ${show(value)} is not a number`);
    } else {
      out.other[key] = value;
    }
  }
  out.lines.sort((a, b) => a.line - b.line);
  return out;
}
