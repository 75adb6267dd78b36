/**
 * Where to end the batches of a device's history. SPMS stores each batch in one step and
 * raises alerts from it like from live data: a batch that ended while a line was off would
 * leave a past outage open until the next batch, long enough for its alert to be texted. So
 * batches end where every line is on; what follows the last such place waits for the next
 * window (unless it is the end of the history, or a line stays off for a whole batch).
 */

export interface Entry {
  ts: number;
  values: Record<string, unknown>;
}

const OFF = new Set<unknown>([false, 0, 'false', '0', 'FALSE', 'False']);
const ON = new Set<unknown>([true, 1, 'true', '1', 'TRUE', 'True']);

/** Line → powered, as far as the entries so far say (a line never reported counts as on). */
export type LineStates = Map<string, boolean>;

function apply(states: LineStates, e: Entry): void {
  for (const [key, v] of Object.entries(e.values))
    if (/^[1-8]$/.test(key)) {
      if (OFF.has(v)) states.set(key, false);
      else if (ON.has(v)) states.set(key, true);
    }
}

const allOn = (states: LineStates) => [...states.values()].every(Boolean);

/**
 * Splits `entries` (oldest first, continuing from `states`) into batches of at most `max`;
 * `carry` is what should wait for more history. `states` is advanced past the batches.
 */
export function planBatches(
  entries: Entry[],
  states: LineStates,
  max: number,
  final: boolean,
): { batches: Entry[][]; carry: Entry[] } {
  const batches: Entry[][] = [];
  let i = 0;
  while (i < entries.length) {
    const limit = Math.min(i + max, entries.length);
    const scan = new Map(states);
    let quiet = -1;
    for (let j = i; j < limit; j++) {
      apply(scan, entries[j] as Entry);
      if (allOn(scan)) quiet = j + 1;
    }
    let cut: number;
    if (limit === entries.length && final) cut = limit;
    else if (quiet > i) cut = quiet;
    else if (limit - i >= max)
      cut = limit; // off for a whole batch: nothing better to do
    else break;
    for (let j = i; j < cut; j++) apply(states, entries[j] as Entry);
    batches.push(entries.slice(i, cut));
    i = cut;
  }
  return { batches, carry: entries.slice(i) };
}
