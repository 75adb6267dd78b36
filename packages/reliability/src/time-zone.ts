/**
 * The one way SPMS reads clock times in an IANA zone: an Intl.DateTimeFormat per zone for
 * each kind of display, built once and kept (building one costs far more than using it).
 * Local days (local-days.ts), SMS and e-mail texts and quiet hours all format through it.
 */

export type ZoneFormatOptions = Omit<Intl.DateTimeFormatOptions, 'timeZone'>;

/**
 * A kind of display (locale and fields; a 24-hour clock unless `hourCycle` says otherwise):
 * returns its formatter for a zone, cached per zone. Create one per kind at module level.
 * The formatter throws RangeError for an unknown zone: a bad configuration fails loudly.
 */
export function zonedFormat(
  locale: 'en-GB' | 'en-US',
  options: ZoneFormatOptions,
): (timeZone: string) => Intl.DateTimeFormat {
  const byZone = new Map<string, Intl.DateTimeFormat>();
  return (timeZone) => {
    let f = byZone.get(timeZone);
    if (!f) {
      f = new Intl.DateTimeFormat(locale, { hourCycle: 'h23', ...options, timeZone });
      byZone.set(timeZone, f);
    }
    return f;
  };
}

/** The named parts ('day', 'month', 'hour', …) of instant `at` as strings. */
export function partsOf(f: Intl.DateTimeFormat, at: Date | number): Record<string, string> {
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(at)) if (p.type !== 'literal') parts[p.type] = p.value;
  return parts;
}
