/**
 * SMS segment arithmetic (3GPP TS 23.038 / 23.040). A text that fits the GSM 03.38 7-bit
 * alphabet carries 160 septets in one SMS, or 153 per part once split (the 6-byte
 * concatenation header eats 7 septets). Extension-table characters (€ [ ] { } | ^ ~ \ and
 * form feed) cost two septets, and an escape pair is never split across parts. One
 * character outside the alphabet — a curly apostrophe pasted from a word processor, a
 * Sinhala or Tamil site name — switches the whole message to UCS-2: 70 UTF-16 units, or 67
 * per part, and a surrogate pair is never split. Carriers bill per segment.
 */

const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '\f^{}\\[~]|€';

const basic = new Set(GSM_BASIC);
const extended = new Set(GSM_EXTENDED);

export type SmsEncoding = 'GSM-7' | 'UCS-2';

export interface SegmentInfo {
  encoding: SmsEncoding;
  /** Parts the carrier bills; 0 for an empty text. */
  segments: number;
  /** Septets (GSM-7) or UTF-16 code units (UCS-2) the text needs. */
  units: number;
  /** Units one unsplit message holds: 160 or 70. */
  singleLimit: number;
  /** Characters that forced UCS-2, deduplicated, in order of appearance. */
  nonGsmChars: string[];
}

/** Counts segments exactly as a carrier would split the text. */
export function smsSegments(text: string): SegmentInfo {
  const chars = [...text];
  const nonGsm = [...new Set(chars.filter((c) => !basic.has(c) && !extended.has(c)))];
  if (nonGsm.length === 0) {
    const costs = chars.map((c) => (extended.has(c) ? 2 : 1));
    const units = costs.reduce((a, b) => a + b, 0);
    return {
      encoding: 'GSM-7',
      units,
      singleLimit: 160,
      segments: units <= 160 ? (units === 0 ? 0 : 1) : packParts(costs, 153),
      nonGsmChars: [],
    };
  }
  const costs = chars.map((c) => c.length); // 2 for a surrogate pair (emoji, some scripts)
  const units = costs.reduce((a, b) => a + b, 0);
  return {
    encoding: 'UCS-2',
    units,
    singleLimit: 70,
    segments: units <= 70 ? 1 : packParts(costs, 67),
    nonGsmChars: nonGsm,
  };
}

// Greedy fill: an indivisible item (escape pair, surrogate pair) that does not fit starts a new part.
function packParts(costs: number[], perPart: number): number {
  let parts = 1;
  let used = 0;
  for (const c of costs) {
    if (used + c > perPart) {
      parts++;
      used = 0;
    }
    used += c;
  }
  return parts;
}

// Look-alikes that word processors and phones substitute for plain ASCII. Replacing them
// keeps a message in GSM-7 (160 characters) instead of UCS-2 (70).
const LOOKALIKES: ReadonlyArray<[RegExp, string]> = [
  [/[\u2018\u2019\u201A\u201B\u2032\u00B4`]/g, "'"],
  [/[\u201C\u201D\u201E\u201F\u2033]/g, '"'],
  [/[\u2010-\u2015\u2212]/g, '-'],
  [/\u2026/g, '...'],
  [/[\u00A0\u2000-\u200A\u202F\u205F\u3000]/g, ' '],
  [/[\u200B-\u200D\u2060\uFEFF]/g, ''],
  [/\t/g, ' '],
];

/** Replaces typographic look-alikes with GSM-7 characters; other text is left as is. */
export function toGsmSafe(text: string): string {
  let out = text.normalize('NFC');
  for (const [re, plain] of LOOKALIKES) out = out.replace(re, plain);
  return out;
}

/** True when the text is sent as a single SMS. */
export function fitsOneSegment(text: string): boolean {
  return smsSegments(text).segments <= 1;
}
