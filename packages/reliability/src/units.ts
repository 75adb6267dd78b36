/** Durations are ms internally; SAIDI/CAIDI are reported in minutes (IEEE 1366's usual unit). */
export const MS_PER_MINUTE = 60_000;
export const MS_PER_HOUR = 3_600_000;

/** ms → minutes. */
export function msToMinutes(ms: number): number {
  return ms / MS_PER_MINUTE;
}

/** ASAI fraction → percentage (0.999 → 99.9); null stays null. */
export function asaiPercent(asai: number | null): number | null {
  return asai === null ? null : asai * 100;
}
