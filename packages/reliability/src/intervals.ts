/** Half-open interval [from, to) in epoch ms; `to` may be +Infinity for a window still open. */
export interface Span {
  from: number;
  to: number;
}

/** Sorts and merges windows so overlap sums never count the same offline time twice. */
export function mergeWindows(windows: readonly { from: number; to: number | null }[]): Span[] {
  const spans = windows
    .map((w) => ({ from: w.from, to: w.to ?? Number.POSITIVE_INFINITY }))
    .filter((w) => w.to > w.from)
    .sort((a, b) => a.from - b.from);
  const merged: Span[] = [];
  for (const s of spans) {
    const last = merged[merged.length - 1];
    if (last && s.from <= last.to) last.to = Math.max(last.to, s.to);
    else merged.push({ ...s });
  }
  return merged;
}

/** Length of [from, to) ∩ [a, b), 0 when disjoint. */
export function intersectMs(from: number, to: number, a: number, b: number): number {
  return Math.max(0, Math.min(to, b) - Math.max(from, a));
}

/** Index of the first of sorted, disjoint `spans` that ends after t (spans.length if none): a binary search. */
export function firstEndingAfter(spans: readonly { to: number }[], t: number): number {
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (spans[mid]!.to <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Time of [from, to) covered by merged (sorted, disjoint) windows. */
export function overlapMs(merged: readonly Span[], from: number, to: number): number {
  if (to <= from || merged.length === 0) return 0;
  let sum = 0;
  for (let i = firstEndingAfter(merged, from); i < merged.length; i++) {
    const w = merged[i]!;
    if (w.from >= to) break;
    sum += intersectMs(from, to, w.from, w.to);
  }
  return sum;
}

/** Groups device windows by deviceId, merged. */
export function windowsByDevice(
  windows: readonly { deviceId: string; from: number; to: number | null }[] | undefined,
): Map<string, Span[]> {
  const raw = new Map<string, { from: number; to: number | null }[]>();
  for (const w of windows ?? []) {
    const list = raw.get(w.deviceId);
    if (list) list.push(w);
    else raw.set(w.deviceId, [w]);
  }
  const out = new Map<string, Span[]>();
  for (const [id, list] of raw) out.set(id, mergeWindows(list));
  return out;
}

/**
 * Known (online) outage time inside [clipFrom, clipTo). Offline time is unknown, not outage
 * (docs/domain-rules.md). When the whole outage lies inside the clip, the engine's own figure
 * (endedAt − startedAt − unknownMs) is also an upper bound, so its unknownMs is honoured even
 * if the caller passed no windows for the device.
 */
export function knownOutageMs(
  o: { startedAt: number; endedAt: number; unknownMs: number },
  clipFrom: number,
  clipTo: number,
  windows: readonly Span[],
): number {
  const from = Math.max(o.startedAt, clipFrom);
  const to = Math.min(o.endedAt, clipTo);
  if (to <= from) return 0;
  let known = to - from - overlapMs(windows, from, to);
  if (from === o.startedAt && to === o.endedAt) known = Math.min(known, o.endedAt - o.startedAt - o.unknownMs);
  return Math.max(0, known);
}

/** Whether instant t lies in one of the merged (sorted, disjoint) spans. */
export function containsInstant(merged: readonly Span[], t: number): boolean {
  return overlapMs(merged, t, t + 1) > 0;
}
