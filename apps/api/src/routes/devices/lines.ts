/** The 8 monitored AC lines of a device and their labels. */
import type { FieldError } from './validation.js';

export const LINE_COUNT = 8;

/** This fleet's TP panel (docs/field-protocol.md): line 1 is the utility feed, line 8 the cabinet supply. */
export const DEFAULT_LINE_LABELS: readonly string[] = ['CEB', 'TP 2', 'TP 3', 'TP 4', 'TP 5', 'TP 6', 'TP 7', 'MSAN'];

/** `{"3":"Pump"}` (some lines) or an array of up to 8 labels (index 0 = line 1). */
export type LineLabelsInput = Record<string, string> | string[];

const MAX_LABEL = 64;

/** Merges overrides onto `base`; returns the 8 labels or the problems found. */
export function resolveLineLabels(
  input: LineLabelsInput | undefined,
  base: readonly string[] = DEFAULT_LINE_LABELS,
): { labels: string[]; errors: FieldError[] } {
  const labels = [...base];
  const errors: FieldError[] = [];
  if (!input) return { labels, errors };
  const entries: [string, unknown][] = Array.isArray(input)
    ? input.map((label, i) => [String(i + 1), label])
    : Object.entries(input);
  if (Array.isArray(input) && input.length > LINE_COUNT)
    errors.push({ field: 'lineLabels', message: `at most ${LINE_COUNT} labels (one per line)` });
  for (const [key, label] of entries) {
    const n = Number(key);
    if (!Number.isInteger(n) || n < 1 || n > LINE_COUNT) {
      errors.push({ field: 'lineLabels', message: `line "${key}" does not exist: lines are numbered 1 to 8` });
      continue;
    }
    if (typeof label !== 'string' || label.trim() === '' || label.length > MAX_LABEL) {
      errors.push({ field: `line_${n}`, message: `label must be 1-${MAX_LABEL} characters` });
      continue;
    }
    labels[n - 1] = label.trim();
  }
  return { labels, errors };
}
