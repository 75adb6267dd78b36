/**
 * Delay until an outage that started at `startedAt` has lasted `debounceMs`. Never longer
 * than the debounce itself (a device clock ahead of ours must not push the text out), and
 * 0 for an outage learnt late (backlog): the fire-time re-check still decides.
 */
export function debounceDelayMs(startedAt: number, debounceMs: number, now: number): number {
  return Math.min(debounceMs, Math.max(0, startedAt + debounceMs - now));
}

export type CapDecision = 'send' | 'overflow' | 'suppress';

/**
 * `count` = texts to this recipient in the current cap window, this one included. The first
 * one over the cap starts the overflow summary (sent when the window ends); later ones are
 * only recorded.
 */
export function decideCap(count: number, max: number): CapDecision {
  if (count <= max) return 'send';
  return count === max + 1 ? 'overflow' : 'suppress';
}

/** Start of the cap window containing `now` (fixed windows: counters are simple Redis keys). */
export function capWindowStart(now: number, windowMs: number): number {
  return Math.floor(now / windowMs) * windowMs;
}
